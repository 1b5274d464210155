// The REST contract (/api/v1) through real HTTP: every endpoint's success status and shape, and
// every error status clients are promised, with the rule that a refused request writes nothing.
// Here: sign-up and sessions, packages, and the transport's own errors.
import { creditPackagePrices, creditPackages, users } from "@credits/db/schema";
import { describe, expect, it } from "vitest";
import { startTestServer } from "./harness.ts";
import { call, db, email, ISO, PASSWORD, sessionCookie, signUp, UUID, userCount } from "./rest-contract-helpers.ts";

// Small limits, each on its own server (same database).
const BODY_LIMIT_BYTES = 1_024;
const smallBodyServer = await startTestServer({ BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES) });
const rateLimitedServer = await startTestServer({ AUTH_RATE_LIMIT_PER_MINUTE: "3", TRUST_PROXY: "1" });

describe("auth", () => {
  it("POST /auth/signup answers 201 with the user and sets the session cookie", async () => {
    const address = email("Signup").toUpperCase();
    const reply = await call("POST", "/api/v1/auth/signup", {
      body: { email: address, password: PASSWORD, name: "Ada" },
    });
    expect(reply.status).toBe(201);
    expect(reply.body).toEqual({
      user: {
        id: expect.stringMatching(UUID),
        email: address.toLowerCase(),
        name: "Ada",
        role: "user",
        createdAt: expect.stringMatching(ISO),
      },
    });
    sessionCookie(reply);
  });

  it.each([
    ["role", { role: "admin" }],
    ["balance", { balance: 1_000_000 }],
    ["creditsBalance", { creditsBalance: 1_000_000 }],
  ])("POST /auth/signup with an unknown field (%s) is a 400 and creates nobody", async (field, extra) => {
    const before = await userCount();
    const address = email("strict");
    const reply = await call("POST", "/api/v1/auth/signup", { body: { email: address, password: PASSWORD, ...extra } });
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({
      error: {
        code: "INVALID_INPUT",
        message: "Input validation failed",
        fields: { _: [`Unrecognized key: "${field}"`] },
      },
    });
    expect(reply.headers.getSetCookie()).toEqual([]);
    expect(await userCount()).toBe(before);
    expect((await db.select({ email: users.email }).from(users)).map((u) => u.email)).not.toContain(address);
  });

  it("POST /auth/signup names the invalid fields", async () => {
    const reply = await call("POST", "/api/v1/auth/signup", { body: { email: "not-an-email", password: "short" } });
    expect(reply.status).toBe(400);
    expect(reply.body.error.code).toBe("INVALID_INPUT");
    expect(Object.keys(reply.body.error.fields).sort()).toEqual(["email", "password"]);
  });

  it("POST /auth/signup for a taken email is a 409", async () => {
    const { email: taken } = await signUp();
    const before = await userCount();
    const reply = await call("POST", "/api/v1/auth/signup", { body: { email: taken, password: PASSWORD } });
    expect(reply.status).toBe(409);
    expect(reply.body).toEqual({
      error: { code: "ALREADY_EXISTS", message: "an account with this email already exists" },
    });
    expect(await userCount()).toBe(before);
  });

  it("POST /auth/login answers 200 with the user and a new cookie; a wrong password is a 401", async () => {
    const user = await signUp("login");
    const reply = await call("POST", "/api/v1/auth/login", { body: { email: user.email, password: PASSWORD } });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      user: { id: user.id, email: user.email, name: null, role: "user", createdAt: expect.stringMatching(ISO) },
    });
    expect(sessionCookie(reply)).not.toBe(user.cookie);

    const wrong = await call("POST", "/api/v1/auth/login", { body: { email: user.email, password: `${PASSWORD}!` } });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({ error: { code: "UNAUTHENTICATED", message: "invalid email or password" } });
    expect(wrong.headers.getSetCookie()).toEqual([]);
  });

  it("GET /me and /me/sessions answer for the signed-in user; anonymously they are 401", async () => {
    const user = await signUp("me");
    const me = await call("GET", "/api/v1/me", { cookie: user.cookie });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({
      id: user.id,
      email: user.email,
      name: null,
      role: "user",
      createdAt: expect.stringMatching(ISO),
    });

    const login = await call("POST", "/api/v1/auth/login", { body: { email: user.email, password: PASSWORD } });
    const sessions = await call("GET", "/api/v1/me/sessions", { cookie: user.cookie });
    expect(sessions.status).toBe(200);
    expect(sessions.body.sessions).toHaveLength(2);
    for (const s of sessions.body.sessions) {
      expect(s).toEqual({
        id: expect.any(String),
        createdAt: expect.stringMatching(ISO),
        expiresAt: expect.stringMatching(ISO),
        current: expect.any(Boolean),
      });
    }
    expect(sessions.body.sessions.filter((s: { current: boolean }) => s.current)).toHaveLength(1);
    expect((await call("GET", "/api/v1/me/sessions", { cookie: sessionCookie(login) })).body.sessions).toHaveLength(2);

    for (const path of ["/api/v1/me", "/api/v1/me/sessions", "/api/v1/me/credits"]) {
      const anonymous = await call("GET", path);
      expect(anonymous.status).toBe(401);
      expect(anonymous.body).toEqual({ error: { code: "UNAUTHENTICATED", message: "sign in first" } });
    }
  });

  it("POST /auth/logout answers 204 (no body needed), clears the cookie and ends the session", async () => {
    const user = await signUp("logout");
    const reply = await call("POST", "/api/v1/auth/logout", { cookie: user.cookie });
    expect(reply.status).toBe(204);
    expect(reply.body).toBeNull();
    expect(reply.headers.getSetCookie()).toEqual(["session=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0"]);
    expect((await call("GET", "/api/v1/me", { cookie: user.cookie })).status).toBe(401);
    // Anonymous log-out is harmless and answers the same.
    expect((await call("POST", "/api/v1/auth/logout")).status).toBe(204);
  });

  it("POST /auth/logout-everywhere answers 204 when signed in, 401 otherwise", async () => {
    const user = await signUp("everywhere");
    const other = await call("POST", "/api/v1/auth/login", { body: { email: user.email, password: PASSWORD } });
    const otherCookie = sessionCookie(other);
    const anonymous = await call("POST", "/api/v1/auth/logout-everywhere");
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toEqual({ error: { code: "UNAUTHENTICATED", message: "sign in first" } });

    const reply = await call("POST", "/api/v1/auth/logout-everywhere", { cookie: user.cookie });
    expect(reply.status).toBe(204);
    expect(reply.body).toBeNull();
    expect((await call("GET", "/api/v1/me", { cookie: user.cookie })).status).toBe(401);
    expect((await call("GET", "/api/v1/me", { cookie: otherCookie })).status).toBe(401);
  });
});

describe("packages", () => {
  it("GET /packages lists the active packs in display order, each with all its prices and its default price", async () => {
    const reply = await call("GET", "/api/v1/packages");
    expect(reply.status).toBe(200);
    const active = (await db.select().from(creditPackages))
      .filter((p) => p.archivedAt === null)
      .sort((a, b) => a.position - b.position || a.credits - b.credits);
    const prices = await db.select().from(creditPackagePrices).orderBy(creditPackagePrices.sortOrder);
    expect(active.length).toBeGreaterThan(0);
    expect(reply.body).toEqual({
      packages: active.map((p) => {
        const own = prices.filter((price) => price.packageId === p.id);
        return {
          id: p.id,
          slug: p.slug,
          name: p.name,
          credits: p.credits,
          prices: own.map(({ currency, unitAmount }) => ({ currency, unitAmount })),
          priceMinor: own[0]?.unitAmount,
          currency: own[0]?.currency,
          creditExpiryDays: p.creditExpiryDays,
          position: p.position,
          highlight: p.highlight,
        };
      }),
    });
  });
});

describe("transport errors", () => {
  it("an unknown route is a 404 in the error shape, inside and outside /api/v1", async () => {
    const api = await call("GET", "/api/v1/no-such-thing");
    expect(api.status).toBe(404);
    expect(api.body).toEqual({ error: { code: "NOT_FOUND", message: "Not found" } });
    const wrongMethod = await call("DELETE", "/api/v1/packages");
    expect(wrongMethod.status).toBe(404);
    expect(wrongMethod.body.error.code).toBe("NOT_FOUND");
    const outside = await call("GET", "/no-such-page");
    expect(outside.status).toBe(404);
    expect(outside.body).toEqual({ error: { code: "NOT_FOUND", message: "no route for GET /no-such-page" } });
  });

  it("a body over BODY_LIMIT_BYTES is a 413 and writes nothing", async () => {
    const before = await userCount();
    const address = email("big");
    const rawBody = JSON.stringify({ email: address, password: PASSWORD, name: "x".repeat(BODY_LIMIT_BYTES) });
    const reply = await call("POST", "/api/v1/auth/signup", { base: smallBodyServer.url, rawBody });
    expect(reply.status).toBe(413);
    expect(reply.body).toEqual({
      error: { code: "PAYLOAD_TOO_LARGE", message: `request body over ${BODY_LIMIT_BYTES} bytes` },
    });
    const trpc = await call("POST", "/trpc/auth.signUp", { base: smallBodyServer.url, rawBody });
    expect(trpc.status).toBe(413);
    expect(trpc.body.error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(await userCount()).toBe(before);
    // Just under the limit passes on the same server.
    const small = await call("POST", "/api/v1/auth/signup", {
      base: smallBodyServer.url,
      body: { email: address, password: PASSWORD },
    });
    expect(small.status).toBe(201);
  });

  it("a body must be a JSON object sent as application/json (any case, any parameters)", async () => {
    const body = { email: email("ctype"), password: "wrong password" };
    const array = await call("POST", "/api/v1/auth/login", { rawBody: "[1]" });
    expect(array.status).toBe(400);
    expect(array.body.error).toEqual({ code: "INVALID_INPUT", message: "the body must be a JSON object" });
    const mixedCase = await call("POST", "/api/v1/auth/login", {
      body,
      headers: { "content-type": "Application/JSON; charset=utf-8" },
    });
    expect(mixedCase.status).toBe(401);
    const lookalike = await call("POST", "/api/v1/auth/login", {
      body,
      headers: { "content-type": "application/jsonx" },
    });
    expect(lookalike.status).toBe(415);
    expect(lookalike.body.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  it("an API answer without an Origin still varies on Origin (a shared cache keeps them apart)", async () => {
    const reply = await call("GET", "/api/v1/packages");
    expect(reply.status).toBe(200);
    expect(reply.headers.get("vary")).toMatch(/\borigin\b/i);
  });

  it("a malformed JSON body is a 400", async () => {
    const reply = await call("POST", "/api/v1/auth/login", { rawBody: "{not json" });
    expect(reply.status).toBe(400);
    expect(reply.body.error.code).toBe("INVALID_INPUT");
  });

  it("too many log-in attempts from one address are a 429 with Retry-After", async () => {
    const headers = { "x-forwarded-for": "203.0.113.9" };
    const body = { email: email("limited"), password: "wrong password" };
    for (let attempt = 1; attempt <= 3; attempt++) {
      const reply = await call("POST", "/api/v1/auth/login", { base: rateLimitedServer.url, headers, body });
      expect(reply.status, `attempt ${attempt}`).toBe(401);
    }
    const limited = await call("POST", "/api/v1/auth/login", { base: rateLimitedServer.url, headers, body });
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ error: { code: "RATE_LIMITED", message: "too many attempts, try again later" } });
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Sign-up counts against the same budget and creates nobody once refused.
    const before = await userCount();
    const signup = await call("POST", "/api/v1/auth/signup", {
      base: rateLimitedServer.url,
      headers,
      body: { email: email("limited"), password: PASSWORD },
    });
    expect(signup.status).toBe(429);
    expect(await userCount()).toBe(before);
    // Another address still gets in.
    const elsewhere = await call("POST", "/api/v1/auth/login", {
      base: rateLimitedServer.url,
      headers: { "x-forwarded-for": "198.51.100.7" },
      body: { ...body, email: email("elsewhere") },
    });
    expect(elsewhere.status).toBe(401);
  });
});
