// A GDPR export reads the user's whole ledger, so each user gets GDPR_EXPORT_RATE_LIMIT_PER_HOUR of
// them, whichever way they ask (REST, tRPC; the /account download calls the same procedure):
// RateLimit headers of the "export" policy, then a 429 with Retry-After and no document.
import { describe, expect, it } from "vitest";
import { startTestServer } from "./harness.ts";
import { call, signUp } from "./payments/helpers.ts";

const server = await startTestServer({ GDPR_EXPORT_RATE_LIMIT_PER_HOUR: "3" });

describe("GDPR export rate limit", () => {
  it("counts REST and tRPC together per user; past the limit, 429 and no document", async () => {
    const user = await signUp(server.url, "export-limit");
    const rest = await call(server.url, "GET", "/api/v1/gdpr/export", { cookie: user.cookie });
    expect(rest.status).toBe(200);
    expect(rest.body.profile.id).toBe(user.id);
    expect(rest.headers.get("ratelimit-policy")).toBe('"export";q=3;w=3600');
    expect(rest.headers.get("ratelimit")).toMatch(/^"export";r=2;t=\d+$/);

    const trpc = await call(server.url, "GET", "/trpc/gdpr.export", { cookie: user.cookie });
    expect(trpc.status).toBe(200);
    expect((await call(server.url, "GET", "/api/v1/gdpr/export", { cookie: user.cookie })).status).toBe(200);

    const refused = await call(server.url, "GET", "/api/v1/gdpr/export", { cookie: user.cookie });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe("RATE_LIMITED");
    expect(JSON.stringify(refused.body)).not.toContain(user.email);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(refused.headers.get("ratelimit")).toMatch(/^"export";r=0;t=\d+$/);
    expect((await call(server.url, "GET", "/trpc/gdpr.export", { cookie: user.cookie })).status).toBe(429);

    // Another user's exports are theirs to count.
    const other = await signUp(server.url, "export-limit-other");
    expect((await call(server.url, "GET", "/api/v1/gdpr/export", { cookie: other.cookie })).status).toBe(200);
  });
});
