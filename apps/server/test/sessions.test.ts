// Sessions over real HTTP: token per log-in, only its hash stored, log-out (here and everywhere),
// cookie attributes (and the __Host- name in production), sliding expiry, the log-in rate limit,
// the CSRF guard and CORS.
import { randomUUID } from "node:crypto";
import { createCreditService, sessionIdOf } from "@credits/core";
import { createLedgerStore, rowsOf } from "@credits/db";
import { creditTransactions, sessions, users } from "@credits/db/schema";
import { beforeAll, describe, expect, it } from "vitest";
import { startTestServer, testDb } from "./harness.ts";

const { db } = testDb;
const PUBLIC_URL = "http://localhost:3000";
const ALLOWED_ORIGIN = "https://app.example";
const server = await startTestServer({ CORS_ORIGINS: ALLOWED_ORIGIN });
const production = await startTestServer({ NODE_ENV: "production", ALLOW_LOCAL_PAYMENTS: "true" });
const limited = await startTestServer({
  AUTH_RATE_LIMIT_PER_MINUTE: "3",
  TRUST_PROXY: "1",
  AUTH_FAILED_LOGINS_PER_ADDRESS: "1",
  AUTH_FAILED_LOGINS_PER_EMAIL: "3",
});
const credits = createCreditService({ store: createLedgerStore(db) });

const PASSWORD = "correct horse battery";
const DAY_MS = 24 * 60 * 60 * 1000;

interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON, asserted field by field
  body: any;
}

async function call(
  method: string,
  path: string,
  options: { body?: unknown; cookie?: string; headers?: Record<string, string>; base?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers["content-type"] ??= "application/json";
  if (options.cookie) headers.cookie = options.cookie;
  const response = await fetch(`${options.base ?? server.url}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? null : JSON.parse(text) };
}

interface SetCookie {
  name: string;
  value: string;
  attributes: Map<string, string>;
}

function parseSetCookie(header: string): SetCookie {
  const [pair = "", ...rest] = header.split(";").map((part) => part.trim());
  const at = pair.indexOf("=");
  const attributes = new Map<string, string>();
  for (const attribute of rest) {
    const eq = attribute.indexOf("=");
    const key = (eq < 0 ? attribute : attribute.slice(0, eq)).toLowerCase();
    attributes.set(key, eq < 0 ? "" : attribute.slice(eq + 1));
  }
  return { name: pair.slice(0, at), value: pair.slice(at + 1), attributes };
}

function onlyCookie(reply: Reply): SetCookie {
  const cookies = reply.headers.getSetCookie();
  expect(cookies).toHaveLength(1);
  return parseSetCookie(cookies[0] ?? "");
}

const newEmail = () => `sessions-${randomUUID()}@example.test`;

async function signUp(base = server.url): Promise<{ id: string; email: string; token: string; cookie: string }> {
  const email = newEmail();
  const reply = await call("POST", "/api/v1/auth/signup", { base, body: { email, password: PASSWORD } });
  expect(reply.status).toBe(201);
  const cookie = onlyCookie(reply);
  return { id: reply.body.user.id, email, token: cookie.value, cookie: `${cookie.name}=${cookie.value}` };
}

async function logIn(email: string): Promise<{ token: string; cookie: string }> {
  const reply = await call("POST", "/api/v1/auth/login", { body: { email, password: PASSWORD } });
  expect(reply.status).toBe(200);
  const cookie = onlyCookie(reply);
  expect(cookie.name).toBe("session");
  return { token: cookie.value, cookie: `session=${cookie.value}` };
}

const meStatus = async (cookie: string, base = server.url) =>
  (await call("GET", "/api/v1/me", { cookie, base })).status;

async function sessionRow(token: string) {
  const rows = await db.select().from(sessions);
  return rows.find((row) => row.id === sessionIdOf(token)) ?? null;
}

async function balanceOf(userId: string): Promise<number> {
  const row = (await db.select({ id: users.id, balance: users.creditsBalance }).from(users)).find(
    (r) => r.id === userId,
  );
  if (!row) throw new Error(`no user ${userId}`);
  return row.balance;
}

describe("session tokens", () => {
  it("each log-in issues a new token; both stay valid; the session cookie carries the account", async () => {
    const user = await signUp();
    const first = await logIn(user.email);
    const second = await logIn(user.email);
    expect(new Set([user.token, first.token, second.token]).size).toBe(3);
    for (const { cookie } of [user, first, second]) {
      const me = await call("GET", "/api/v1/me", { cookie });
      expect(me.status).toBe(200);
      expect(me.body.id).toBe(user.id);
    }
    const listed = await call("GET", "/api/v1/me/sessions", { cookie: first.cookie });
    expect(listed.body.sessions).toHaveLength(3);
  });

  it("stores only the token's SHA-256, never the token", async () => {
    const user = await signUp();
    const { token } = await logIn(user.email);
    const rows = await db.select().from(sessions);
    const mine = rows.filter((row) => row.userId === user.id);
    expect(mine.map((row) => row.id).sort()).toEqual([sessionIdOf(user.token), sessionIdOf(token)].sort());
    for (const row of mine) expect(row.id).toMatch(/^[0-9a-f]{64}$/);
    const dump = JSON.stringify(rowsOf(await db.execute("SELECT * FROM sessions")), (_, value) =>
      typeof value === "bigint" ? String(value) : value,
    );
    expect(dump).not.toContain(token);
    expect(dump).not.toContain(user.token);
    // Nor does the session list show the stored id in full.
    const listed = await call("GET", "/api/v1/me/sessions", { cookie: `session=${token}` });
    expect(JSON.stringify(listed.body)).not.toContain(sessionIdOf(token));
  });

  it("a token that is unknown or malformed is not a session, and the cookie is cleared", async () => {
    for (const cookie of ["session=abcdefghijklmnopqrstuvwxyz234567", "session=not-a-token", "session="]) {
      const reply = await call("GET", "/api/v1/me", { cookie });
      expect(reply.status, cookie).toBe(401);
    }
    const unknown = await call("GET", "/api/v1/me", { cookie: "session=abcdefghijklmnopqrstuvwxyz234567" });
    expect(unknown.headers.getSetCookie()).toEqual(["session=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0"]);
  });

  it("log-out ends this session only", async () => {
    const user = await signUp();
    const other = await logIn(user.email);
    const reply = await call("POST", "/api/v1/auth/logout", { cookie: user.cookie });
    expect(reply.status).toBe(204);
    expect(onlyCookie(reply).attributes.get("max-age")).toBe("0");
    expect(await meStatus(user.cookie)).toBe(401);
    expect(await sessionRow(user.token)).toBeNull();
    expect(await meStatus(other.cookie)).toBe(200);
  });

  it("log-out-everywhere from one session ends every session of the account, and no one else's", async () => {
    const user = await signUp();
    const laptop = await logIn(user.email);
    const phone = await logIn(user.email);
    const bystander = await signUp();
    const reply = await call("POST", "/api/v1/auth/logout-everywhere", { cookie: phone.cookie });
    expect(reply.status).toBe(204);
    expect(onlyCookie(reply).attributes.get("max-age")).toBe("0");
    for (const { cookie } of [user, laptop, phone]) expect(await meStatus(cookie)).toBe(401);
    expect((await db.select().from(sessions)).filter((row) => row.userId === user.id)).toEqual([]);
    expect(await meStatus(bystander.cookie)).toBe(200);
    // A new log-in works again afterwards.
    expect(await meStatus((await logIn(user.email)).cookie)).toBe(200);
  });

  it("an expired session is refused, cleared and deleted", async () => {
    const user = await signUp();
    await db.execute(
      `UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = '${sessionIdOf(user.token)}'`,
    );
    const reply = await call("GET", "/api/v1/me", { cookie: user.cookie });
    expect(reply.status).toBe(401);
    expect(onlyCookie(reply).attributes.get("max-age")).toBe("0");
    expect(await sessionRow(user.token)).toBeNull();
  });

  it("a session used with less than 15 days left slides to a full 30 days and the cookie is re-sent", async () => {
    const user = await signUp();
    await db.execute(
      `UPDATE sessions SET expires_at = now() + interval '2 days' WHERE id = '${sessionIdOf(user.token)}'`,
    );
    const reply = await call("GET", "/api/v1/me", { cookie: user.cookie });
    expect(reply.status).toBe(200);
    const cookie = onlyCookie(reply);
    expect(cookie.value).toBe(user.token);
    const expires = Date.parse(cookie.attributes.get("expires") ?? "");
    expect(Math.abs(expires - (Date.now() + 30 * DAY_MS))).toBeLessThan(60_000);
    const row = await sessionRow(user.token);
    expect(Math.abs((row?.expiresAt.getTime() ?? 0) - (Date.now() + 30 * DAY_MS))).toBeLessThan(60_000);
    // A fresh session is not re-sent on every request.
    const again = await call("GET", "/api/v1/me", { cookie: user.cookie });
    expect(again.headers.getSetCookie()).toEqual([]);
  });
});

describe("the session cookie", () => {
  it("is HttpOnly, Secure, SameSite=Lax, Path=/ and expires in 30 days, on sign-up and log-in", async () => {
    const email = newEmail();
    const signup = await call("POST", "/api/v1/auth/signup", { body: { email, password: PASSWORD } });
    const login = await call("POST", "/api/v1/auth/login", { body: { email, password: PASSWORD } });
    for (const reply of [signup, login]) {
      const cookie = onlyCookie(reply);
      expect(cookie.name).toBe("session");
      expect(cookie.value).toMatch(/^[a-z2-7]{32}$/);
      expect([...cookie.attributes.keys()].sort()).toEqual(["expires", "httponly", "path", "samesite", "secure"]);
      expect(cookie.attributes.get("path")).toBe("/");
      expect(cookie.attributes.get("samesite")).toBe("Lax");
      const expires = Date.parse(cookie.attributes.get("expires") ?? "");
      expect(Math.abs(expires - (Date.now() + 30 * DAY_MS))).toBeLessThan(60_000);
      // The stored expiry is the cookie's (to the second: Expires has no milliseconds).
      const row = await sessionRow(cookie.value);
      expect(Math.abs((row?.expiresAt.getTime() ?? 0) - expires)).toBeLessThan(1_000);
    }
  });

  it("is __Host-session in production, with no Domain, and only that name is accepted there", async () => {
    const user = await signUp(production.url);
    const email = user.email;
    const login = await call("POST", "/api/v1/auth/login", {
      base: production.url,
      body: { email, password: PASSWORD },
    });
    expect(login.status).toBe(200);
    const cookie = onlyCookie(login);
    expect(cookie.name).toBe("__Host-session");
    expect([...cookie.attributes.keys()].sort()).toEqual(["expires", "httponly", "path", "samesite", "secure"]);
    expect(cookie.attributes.get("path")).toBe("/");
    expect(cookie.attributes.get("samesite")).toBe("Lax");
    expect(await meStatus(`__Host-session=${cookie.value}`, production.url)).toBe(200);
    expect(await meStatus(`session=${cookie.value}`, production.url)).toBe(401);

    const logout = await call("POST", "/api/v1/auth/logout", {
      base: production.url,
      cookie: `__Host-session=${cookie.value}`,
    });
    expect(logout.status).toBe(204);
    expect(logout.headers.getSetCookie()).toEqual([
      "__Host-session=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0",
    ]);
    expect(await meStatus(`__Host-session=${cookie.value}`, production.url)).toBe(401);
    expect(await meStatus(user.cookie, production.url)).toBe(200);
  });
});

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
