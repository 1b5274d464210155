// What stands in front of sessions, over real HTTP: the log-in rate limit, the CSRF guard and CORS.
import { randomUUID } from "node:crypto";
import { createCreditService } from "@credits/core";
import { createLedgerStore } from "@credits/db";
import { creditTransactions, sessions, users } from "@credits/db/schema";
import { beforeAll, describe, expect, it } from "vitest";
import { startTestServer } from "./harness.ts";
import {
  ALLOWED_ORIGIN,
  balanceOf,
  call,
  db,
  meStatus,
  newEmail,
  PASSWORD,
  PUBLIC_URL,
  production,
  server,
  signUp,
} from "./sessions-helpers.ts";

const limited = await startTestServer({
  AUTH_RATE_LIMIT_PER_MINUTE: "3",
  TRUST_PROXY: "1",
  AUTH_FAILED_LOGINS_PER_ADDRESS: "1",
  AUTH_FAILED_LOGINS_PER_EMAIL: "3",
});
const credits = createCreditService({ store: createLedgerStore(db) });

describe("the log-in rate limit", () => {
  it("answers 429 with Retry-After after AUTH_RATE_LIMIT_PER_MINUTE attempts from one address", async () => {
    const headers = { "x-forwarded-for": "192.0.2.10" };
    for (let attempt = 1; attempt <= 3; attempt++) {
      const reply = await call("POST", "/api/v1/auth/signup", {
        base: limited.url,
        headers,
        body: { email: newEmail(), password: PASSWORD },
      });
      expect(reply.status, `attempt ${attempt}`).toBe(201);
    }
    const before = await db.$count(users);
    for (const path of ["/api/v1/auth/signup", "/api/v1/auth/login"]) {
      const reply = await call("POST", path, {
        base: limited.url,
        headers,
        body: { email: newEmail(), password: PASSWORD },
      });
      expect(reply.status, path).toBe(429);
      expect(reply.body).toEqual({ error: { code: "RATE_LIMITED", message: "too many attempts, try again later" } });
      expect(reply.headers.getSetCookie()).toEqual([]);
      const retryAfter = Number(reply.headers.get("retry-after"));
      expect(Number.isInteger(retryAfter), String(reply.headers.get("retry-after"))).toBe(true);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }
    const trpc = await call("POST", "/trpc/auth.logIn", {
      base: limited.url,
      headers,
      body: { email: newEmail(), password: PASSWORD },
    });
    expect(trpc.status).toBe(429);
    expect(trpc.body.error.data).toMatchObject({
      appCode: "RATE_LIMITED",
      httpStatus: 429,
      retryAfterSeconds: expect.any(Number),
    });
    expect(await db.$count(users)).toBe(before);
  });

  it("past the per-email ceiling of failures, even the right password from a new address waits", async () => {
    const user = await signUp();
    for (let attempt = 1; attempt <= 3; attempt++) {
      const reply = await call("POST", "/api/v1/auth/login", {
        base: limited.url,
        headers: { "x-forwarded-for": `198.51.100.${attempt}` },
        body: { email: user.email, password: "wrong password" },
      });
      expect(reply.status, `attempt ${attempt}`).toBe(401);
    }
    const right = await call("POST", "/api/v1/auth/login", {
      base: limited.url,
      headers: { "x-forwarded-for": "198.51.100.99" },
      body: { email: user.email.toUpperCase(), password: PASSWORD },
    });
    expect(right.status).toBe(429);
    expect(right.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(right.headers.getSetCookie()).toEqual([]);
  });
});

describe("the CSRF guard", () => {
  let user: { id: string; cookie: string; token: string };
  const spend = () => ({ amount: 1, idempotencyKey: randomUUID() });

  beforeAll(async () => {
    user = await signUp();
    await credits.grant({
      scope: { kind: "user", id: "test" },
      userId: user.id,
      amount: 100,
      idempotencyKey: randomUUID(),
    });
  });

  const crossSite: [string, Record<string, string>][] = [
    ["Origin: https://evil.example", { origin: "https://evil.example" }],
    ["Origin: null", { origin: "null" }],
    ["Origin: http://localhost:3000.evil.example", { origin: "http://localhost:3000.evil.example" }],
    ["Sec-Fetch-Site: cross-site", { "sec-fetch-site": "cross-site" }],
    ["Sec-Fetch-Site: same-site", { "sec-fetch-site": "same-site" }],
  ];

  it.each(crossSite)(
    "refuses a state-changing request with the session cookie and %s (403, nothing changes)",
    async (_, headers) => {
      const rows = await db.$count(creditTransactions);
      for (const [path, body] of [
        ["/api/v1/credits/spend", spend()],
        ["/trpc/credits.spend", spend()],
        ["/api/v1/auth/logout-everywhere", undefined],
        ["/api/v1/auth/logout", undefined],
      ] as const) {
        const reply = await call("POST", path, { cookie: user.cookie, headers, body });
        expect(reply.status, path).toBe(403);
        expect(reply.body, path).toEqual({ error: { code: "CSRF", message: "cross-site request refused" } });
        expect(reply.headers.getSetCookie(), path).toEqual([]);
      }
      expect(await db.$count(creditTransactions)).toBe(rows);
      expect(await balanceOf(user.id)).toBe(100);
      expect(await meStatus(user.cookie)).toBe(200);
    },
  );

  it("lets the same request through from our own origin, an allowed origin, same-origin or a non-browser client", async () => {
    const passing: Record<string, string>[] = [
      { origin: PUBLIC_URL },
      { origin: ALLOWED_ORIGIN },
      { "sec-fetch-site": "same-origin" },
      { "sec-fetch-site": "none" },
      {},
    ];
    let balance = 100;
    for (const headers of passing) {
      for (const path of ["/api/v1/credits/spend", "/trpc/credits.spend"]) {
        const reply = await call("POST", path, { cookie: user.cookie, headers, body: spend() });
        expect(reply.status, `${path} ${JSON.stringify(headers)}`).toBe(200);
        balance -= 1;
      }
    }
    expect(await balanceOf(user.id)).toBe(balance);
  });

  it("does not stand in the way of reads; refuses a cross-site write even without the cookie", async () => {
    const evil = { origin: "https://evil.example" };
    expect((await call("GET", "/api/v1/me", { cookie: user.cookie, headers: evil })).status).toBe(200);
    // Log-in and log-out set or clear the cookie without sending one (SameSite=Lax): the guard
    // cannot wait for the cookie (hostile-web.test.ts has the log-out and login-CSRF cases).
    const anonymous = await call("POST", "/api/v1/credits/spend", { headers: evil, body: spend() });
    expect(anonymous.status).toBe(403);
  });

  it("refuses a cross-site simple request (no JSON content type) that would log the browser in", async () => {
    const owner = await signUp();
    const before = (await db.select().from(sessions)).filter((row) => row.userId === owner.id).length;
    for (const path of ["/api/v1/auth/login", "/trpc/auth.logIn"]) {
      const reply = await call("POST", path, {
        headers: { origin: "https://evil.example", "content-type": "text/plain" },
        body: { email: owner.email, password: PASSWORD },
      });
      // The origin check answers first (403); without an Origin the content type would (415).
      expect(reply.status, path).toBe(403);
      expect(reply.headers.getSetCookie()).toEqual([]);
    }
    expect((await db.select().from(sessions)).filter((row) => row.userId === owner.id)).toHaveLength(before);
  });
});

describe("CORS", () => {
  it("answers an allowed origin with Access-Control-Allow-Origin and credentials", async () => {
    const reply = await call("GET", "/api/v1/packages", { headers: { origin: ALLOWED_ORIGIN } });
    expect(reply.status).toBe(200);
    expect(reply.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(reply.headers.get("access-control-allow-credentials")).toBe("true");
    expect(reply.headers.get("vary")).toMatch(/Origin/);

    const preflight = await fetch(`${server.url}/api/v1/credits/spend`, {
      method: "OPTIONS",
      headers: {
        origin: ALLOWED_ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(preflight.headers.get("access-control-allow-methods")).toMatch(/POST/);

    const trpc = await call("GET", "/trpc/packages.list", { headers: { origin: ALLOWED_ORIGIN } });
    expect(trpc.status).toBe(200);
    expect(trpc.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
  });

  it("gives any other origin no Access-Control-Allow-Origin", async () => {
    for (const origin of ["https://evil.example", "https://app.example.evil.example", "null"]) {
      const reply = await call("GET", "/api/v1/packages", { headers: { origin } });
      expect(reply.status).toBe(200);
      expect(reply.headers.get("access-control-allow-origin"), origin).toBeNull();
      const preflight = await fetch(`${server.url}/api/v1/credits/spend`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST" },
      });
      expect(preflight.headers.get("access-control-allow-origin"), origin).toBeNull();
    }
    // The production server was started without CORS_ORIGINS: the allowed origin above is not allowed there.
    const reply = await call("GET", "/api/v1/packages", { base: production.url, headers: { origin: ALLOWED_ORIGIN } });
    expect(reply.headers.get("access-control-allow-origin")).toBeNull();
  });
});
