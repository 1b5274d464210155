// The HTTP conventions through real HTTP: RateLimit and RateLimit-Policy (IETF
// draft-ietf-httpapi-ratelimit-headers) on the rate-limited routes, counting down to the 429, which
// keeps Retry-After, and not elsewhere; Location on every 201.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { startTestServer } from "./harness.ts";
import { call } from "./http-call.ts";

const PASSWORD = "correct horse battery";
const server = await startTestServer({
  AUTH_RATE_LIMIT_PER_MINUTE: "3",
  CHECKOUT_RATE_LIMIT_PER_MINUTE: "2",
  TRUST_PROXY: "1",
});
const signUpFrom = (address: string) =>
  call(server.url, "POST", "/api/v1/auth/signup", {
    headers: { "x-forwarded-for": address },
    body: { email: `limits-${randomUUID()}@example.test`, password: PASSWORD },
  });
const remaining = (reply: { headers: Headers }) => reply.headers.get("ratelimit")?.match(/;r=(\d+);t=(\d+)$/);

describe("RateLimit headers", () => {
  it("sign-up counts the address's attempts down to a 429 that keeps Retry-After", async () => {
    const address = "203.0.113.77";
    const replies = [await signUpFrom(address), await signUpFrom(address), await signUpFrom(address)];
    for (const [i, reply] of replies.entries()) {
      expect(reply.status).toBe(201);
      expect(reply.headers.get("ratelimit-policy")).toBe('"auth";q=3;w=60');
      const [, left, reset] = remaining(reply) ?? [];
      expect(Number(left), reply.headers.get("ratelimit") ?? "none").toBe(2 - i);
      expect(Number(reset)).toBeGreaterThanOrEqual(1);
      expect(Number(reset)).toBeLessThanOrEqual(60);
    }
    const refused = await signUpFrom(address);
    expect(refused.status).toBe(429);
    const retryAfter = refused.headers.get("retry-after");
    expect(retryAfter).toMatch(/^\d+$/);
    expect(refused.headers.get("ratelimit")).toBe(`"auth";r=0;t=${retryAfter}`);
    expect(refused.headers.get("ratelimit-policy")).toBe('"auth";q=3;w=60');
  });

  it("log-in counts against the same policy; a route without a limit has no RateLimit header", async () => {
    const address = "203.0.113.78";
    const login = await call(server.url, "POST", "/api/v1/auth/login", {
      headers: { "x-forwarded-for": address },
      body: { email: `nobody-${randomUUID()}@example.test`, password: "wrong password" },
    });
    expect(login.status).toBe(401);
    expect(login.headers.get("ratelimit")).toMatch(/^"auth";r=2;t=\d+$/);
    const packages = await call(server.url, "GET", "/api/v1/packages");
    expect(packages.status).toBe(200);
    expect(packages.headers.get("ratelimit")).toBeNull();
    expect(packages.headers.get("ratelimit-policy")).toBeNull();
  });

  it("checkout counts the user's calls per minute", async () => {
    const user = await signUpFrom("203.0.113.79");
    const cookie = (user.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const packs = await call(server.url, "GET", "/api/v1/packages");
    const body = { packageId: packs.body.packages[0].id };
    const first = await call(server.url, "POST", "/api/v1/checkout", { cookie, body });
    expect(first.status).toBe(201);
    expect(first.headers.get("ratelimit-policy")).toBe('"checkout";q=2;w=60');
    expect(remaining(first)?.[1]).toBe("1");
    await call(server.url, "POST", "/api/v1/checkout", { cookie, body });
    const refused = await call(server.url, "POST", "/api/v1/checkout", { cookie, body });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("ratelimit")).toBe(`"checkout";r=0;t=${refused.headers.get("retry-after")}`);
  });
});

describe("Location on a 201", () => {
  it("points at the created resource, readable by its creator", async () => {
    const user = await signUpFrom("203.0.113.80");
    expect(user.status).toBe(201);
    expect(user.headers.get("location")).toBe("/api/v1/me");
    const cookie = (user.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const me = await call(server.url, "GET", user.headers.get("location") ?? "", { cookie });
    expect(me.body.id).toBe(user.body.user.id);
    const packs = await call(server.url, "GET", "/api/v1/packages");
    const checkout = await call(server.url, "POST", "/api/v1/checkout", {
      cookie,
      body: { packageId: packs.body.packages[0].id },
    });
    expect(checkout.status).toBe(201);
    expect(checkout.headers.get("location")).toBe(`/api/v1/payments/${checkout.body.paymentId}`);
    const payment = await call(server.url, "GET", checkout.headers.get("location") ?? "", { cookie });
    expect(payment.status).toBe(200);
    expect(payment.body.id).toBe(checkout.body.paymentId);
  });
});

describe("the server's own routes under /api/v1, where the document says", () => {
  it("streams the live balance at /me/events and serves the document at /openapi.json", async () => {
    const user = await signUpFrom("203.0.113.81");
    const cookie = (user.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const document = await call(server.url, "GET", "/api/v1/openapi.json");
    expect(document.body.paths["/me/events"].get.operationId).toBe("balance-events");
    const controller = new AbortController();
    const stream = await fetch(`${server.url}/api/v1/me/events`, { headers: { cookie }, signal: controller.signal });
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toMatch(/^text\/event-stream/);
    controller.abort();
    const anonymous = await call(server.url, "GET", "/api/v1/me/events");
    expect(anonymous.status).toBe(401);
  });
});
