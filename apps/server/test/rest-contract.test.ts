// The REST contract (/api/v1) through real HTTP: every endpoint's success status and shape, and
// every error status clients are promised, with the rule that a refused request writes nothing.
import { randomUUID } from "node:crypto";
import { createAuthService } from "@credits/core";
import { createAccountStore, createSessionStore } from "@credits/db";
import { apiKeys, creditPackages, creditTransactions, holds, users } from "@credits/db/schema";
import { beforeAll, describe, expect, it } from "vitest";
import { startTestServer, testDb } from "./harness.ts";

const { db } = testDb;
const server = await startTestServer();
// Small limits, each on its own server (same database).
const BODY_LIMIT_BYTES = 1_024;
const smallBodyServer = await startTestServer({ BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES) });
const rateLimitedServer = await startTestServer({ AUTH_RATE_LIMIT_PER_MINUTE: "3", TRUST_PROXY: "1" });

const PASSWORD = "correct horse battery";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON, asserted field by field
  body: any;
}

interface CallOptions {
  body?: unknown;
  rawBody?: string;
  cookie?: string;
  key?: string;
  headers?: Record<string, string>;
  base?: string;
}

// One HTTP request; the body must be JSON or empty (anything else fails the test).
async function call(method: string, path: string, options: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (options.body !== undefined || options.rawBody !== undefined) {
    headers["content-type"] = "application/json";
    body = options.rawBody ?? JSON.stringify(options.body);
  }
  if (options.cookie) headers.cookie = options.cookie;
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  Object.assign(headers, options.headers);
  const response = await fetch(`${options.base ?? server.url}${path}`, { method, headers, body, redirect: "manual" });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? null : JSON.parse(text) };
}

function sessionCookie(reply: Reply): string {
  const cookies = reply.headers.getSetCookie();
  expect(cookies).toHaveLength(1);
  const pair = cookies[0]?.split(";")[0] ?? "";
  expect(pair).toMatch(/^session=[a-z2-7]{32}$/);
  return pair;
}

const email = (label: string) => `${label}-${randomUUID()}@example.test`;

async function signUp(label = "user"): Promise<{ id: string; email: string; cookie: string }> {
  const address = email(label);
  const reply = await call("POST", "/api/v1/auth/signup", { body: { email: address, password: PASSWORD } });
  expect(reply.status).toBe(201);
  return { id: reply.body.user.id, email: address, cookie: sessionCookie(reply) };
}

async function createKey(adminCookie: string, scopes: string[]): Promise<string> {
  const reply = await call("POST", "/api/v1/admin/api-keys", { cookie: adminCookie, body: { name: "test", scopes } });
  expect(reply.status).toBe(200);
  return reply.body.key;
}

const ledgerRows = () => db.$count(creditTransactions);
const userCount = () => db.$count(users);
async function balanceOf(userId: string): Promise<number> {
  const row = (await db.select({ id: users.id, balance: users.creditsBalance }).from(users)).find(
    (r) => r.id === userId,
  );
  if (!row) throw new Error(`no user ${userId}`);
  return row.balance;
}

let adminCookie: string;
let fullKey: string;
let readKey: string;

beforeAll(async () => {
  const auth = createAuthService({ accounts: createAccountStore(db), sessions: createSessionStore(db) });
  const adminEmail = email("admin");
  await auth.createUser({ email: adminEmail, password: PASSWORD, role: "admin" });
  const login = await call("POST", "/api/v1/auth/login", { body: { email: adminEmail, password: PASSWORD } });
  expect(login.status).toBe(200);
  adminCookie = sessionCookie(login);
  fullKey = await createKey(adminCookie, ["credits:read", "credits:spend", "credits:grant"]);
  readKey = await createKey(adminCookie, ["credits:read"]);
});

async function fund(userId: string, amount: number): Promise<void> {
  const reply = await call("POST", "/api/v1/credits/grant", {
    key: fullKey,
    body: { userId, amount, idempotencyKey: randomUUID(), reason: "funding" },
  });
  expect(reply.status).toBe(200);
}

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
  it("GET /packages lists the active packs", async () => {
    const reply = await call("GET", "/api/v1/packages");
    expect(reply.status).toBe(200);
    const active = (await db.select().from(creditPackages)).filter((p) => p.active);
    expect(active.length).toBeGreaterThan(0);
    expect(reply.body).toEqual({
      packages: expect.arrayContaining(
        active.map((p) => ({
          id: p.id,
          slug: p.slug,
          name: p.name,
          credits: p.credits,
          priceMinor: p.priceMinor,
          currency: p.currency,
        })),
      ),
    });
    expect(reply.body.packages).toHaveLength(active.length);
  });
});

describe("credits with an API key", () => {
  it("POST /credits/grant and /credits/spend answer {transactionId, balance}; a retry replays", async () => {
    const user = await signUp();
    const grantKey = randomUUID();
    const grant = await call("POST", "/api/v1/credits/grant", {
      key: fullKey,
      body: { userId: user.id, amount: 100, idempotencyKey: grantKey, reason: "welcome" },
    });
    expect(grant.status).toBe(200);
    expect(grant.body).toEqual({ transactionId: expect.stringMatching(UUID), balance: 100 });

    const spendBody = { userId: user.id, amount: 30, idempotencyKey: randomUUID(), reason: "job 1" };
    const spend = await call("POST", "/api/v1/credits/spend", { key: fullKey, body: spendBody });
    expect(spend.status).toBe(200);
    expect(spend.body).toEqual({ transactionId: expect.stringMatching(UUID), balance: 70 });

    const rows = await ledgerRows();
    const again = await call("POST", "/api/v1/credits/spend", { key: fullKey, body: spendBody });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(spend.body);
    expect(await ledgerRows()).toBe(rows);
    expect(await balanceOf(user.id)).toBe(70);
  });

  it("POST /credits/spend with an unknown field (balance) is a 400 and writes nothing", async () => {
    const user = await signUp();
    await fund(user.id, 50);
    const rows = await ledgerRows();
    const reply = await call("POST", "/api/v1/credits/spend", {
      key: fullKey,
      body: { userId: user.id, amount: 10, idempotencyKey: randomUUID(), reason: "x", balance: 1_000_000 },
    });
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({
      error: {
        code: "INVALID_INPUT",
        message: "Input validation failed",
        fields: { _: ['Unrecognized key: "balance"'] },
      },
    });
    expect(await ledgerRows()).toBe(rows);
    expect(await balanceOf(user.id)).toBe(50);
  });

  it("an amount that is not a JSON integer is a 400 on both transports, and writes nothing", async () => {
    const user = await signUp();
    await fund(user.id, 500);
    const rows = await ledgerRows();
    for (const amount of ["5", "1e2", true, [7], null]) {
      for (const path of ["/api/v1/credits/spend", "/api/v1/credits/grant"]) {
        const reply = await call("POST", path, {
          key: fullKey,
          body: { userId: user.id, amount, idempotencyKey: randomUUID() },
        });
        expect(reply.status, `${path} ${JSON.stringify(amount)}`).toBe(400);
        expect(reply.body.error.code).toBe("INVALID_INPUT");
      }
      // The REST calls leave the procedures' schemas as they were: tRPC refuses the same input.
      const trpc = await call("POST", "/trpc/credits.grant", {
        key: fullKey,
        body: { userId: user.id, amount, idempotencyKey: randomUUID() },
      });
      expect(trpc.status, `trpc ${JSON.stringify(amount)}`).toBe(400);
    }
    expect(await ledgerRows()).toBe(rows);
    expect(await balanceOf(user.id)).toBe(500);
  });

  it("a key or reason with a control character or a lone surrogate is a 400, and writes nothing", async () => {
    const user = await signUp();
    await fund(user.id, 50);
    const rows = await ledgerRows();
    for (const bad of [{ idempotencyKey: "k\u0000" }, { idempotencyKey: "k\ud800" }, { reason: "goodwill\u0000" }]) {
      const reply = await call("POST", "/api/v1/credits/spend", {
        key: fullKey,
        body: { userId: user.id, amount: 1, idempotencyKey: randomUUID(), ...bad },
      });
      expect(reply.status, JSON.stringify(bad)).toBe(400);
      expect(reply.body.error.code).toBe("INVALID_INPUT");
    }
    expect(await ledgerRows()).toBe(rows);
    expect(await balanceOf(user.id)).toBe(50);
  });

  it("POST /credits/spend above the balance is a 402 and leaves the balance", async () => {
    const user = await signUp();
    await fund(user.id, 10);
    const rows = await ledgerRows();
    const reply = await call("POST", "/api/v1/credits/spend", {
      key: fullKey,
      body: { userId: user.id, amount: 11, idempotencyKey: randomUUID() },
    });
    expect(reply.status).toBe(402);
    expect(reply.body).toEqual({
      error: { code: "INSUFFICIENT_CREDITS", message: "insufficient credits: requested 11" },
    });
    expect(await ledgerRows()).toBe(rows);
    expect(await balanceOf(user.id)).toBe(10);
  });

  it("the same idempotency key with a different amount is a 409 and writes nothing", async () => {
    const user = await signUp();
    await fund(user.id, 100);
    const idempotencyKey = randomUUID();
    const first = await call("POST", "/api/v1/credits/spend", {
      key: fullKey,
      body: { userId: user.id, amount: 5, idempotencyKey },
    });
    expect(first.status).toBe(200);
    const rows = await ledgerRows();
    for (const [path, amount] of [
      ["/api/v1/credits/spend", 6],
      ["/api/v1/credits/grant", 5],
    ] as const) {
      const reply = await call("POST", path, { key: fullKey, body: { userId: user.id, amount, idempotencyKey } });
      expect(reply.status).toBe(409);
      expect(reply.body).toEqual({
        error: {
          code: "IDEMPOTENCY_CONFLICT",
          message: "this idempotency key was already used with different parameters",
        },
      });
    }
    expect(await ledgerRows()).toBe(rows);
    expect(await balanceOf(user.id)).toBe(95);
  });

  it("without a key a spend is a 401, with a key lacking the scope a 403, for an unknown user a 404", async () => {
    const user = await signUp();
    await fund(user.id, 10);
    const rows = await ledgerRows();
    const body = { userId: user.id, amount: 1, idempotencyKey: randomUUID() };
    const anonymous = await call("POST", "/api/v1/credits/spend", { body });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toEqual({
      error: { code: "UNAUTHENTICATED", message: "an API key or a session is required" },
    });

    const readOnly = await call("POST", "/api/v1/credits/spend", { key: readKey, body });
    expect(readOnly.status).toBe(403);
    expect(readOnly.body).toEqual({
      error: { code: "FORBIDDEN", message: "this API key lacks the credits:spend scope" },
    });

    const bogusKey = await call("POST", "/api/v1/credits/spend", { key: `ck_${"a".repeat(39)}`, body });
    expect(bogusKey.status).toBe(401);
    expect(bogusKey.body).toEqual({ error: { code: "UNAUTHENTICATED", message: "invalid or revoked API key" } });

    const unknown = await call("POST", "/api/v1/credits/spend", {
      key: fullKey,
      body: { ...body, userId: randomUUID(), idempotencyKey: randomUUID() },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: { code: "NOT_FOUND", message: "user not found" } });

    expect(await ledgerRows()).toBe(rows);
    expect(await balanceOf(user.id)).toBe(10);
  });

  it("a signed-in user spends their own credits; another user's id is a 403", async () => {
    const user = await signUp();
    const other = await signUp();
    await fund(user.id, 20);
    await fund(other.id, 20);
    const own = await call("POST", "/api/v1/credits/spend", {
      cookie: user.cookie,
      body: { amount: 4, idempotencyKey: randomUUID() },
    });
    expect(own.status).toBe(200);
    expect(own.body).toEqual({ transactionId: expect.stringMatching(UUID), balance: 16 });

    const rows = await ledgerRows();
    const theirs = await call("POST", "/api/v1/credits/spend", {
      cookie: user.cookie,
      body: { userId: other.id, amount: 4, idempotencyKey: randomUUID() },
    });
    expect(theirs.status).toBe(403);
    expect(theirs.body).toEqual({ error: { code: "FORBIDDEN", message: "you can only spend your own credits" } });
    expect(await ledgerRows()).toBe(rows);
    expect(await balanceOf(other.id)).toBe(20);
    expect(await balanceOf(user.id)).toBe(16);
  });

  it("GET /users/{userId}/credits answers a credits:read key and an admin; a plain user is refused", async () => {
    const user = await signUp();
    await fund(user.id, 42);
    for (const auth of [{ key: readKey }, { cookie: adminCookie }]) {
      const reply = await call("GET", `/api/v1/users/${user.id}/credits`, auth);
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({
        balance: 42,
        transactions: [
          {
            id: expect.stringMatching(UUID),
            kind: "grant",
            amount: 42,
            balanceAfter: 42,
            reason: "funding",
            paymentId: null,
            holdId: null,
            createdAt: expect.stringMatching(ISO),
          },
        ],
        nextCursor: null,
      });
    }
    const plain = await call("GET", `/api/v1/users/${user.id}/credits`, { cookie: user.cookie });
    expect(plain.status).toBe(403);
    expect(plain.body).toEqual({
      error: { code: "FORBIDDEN", message: "requires an API key with the credits:read scope" },
    });
    const anonymous = await call("GET", `/api/v1/users/${user.id}/credits`);
    expect(anonymous.status).toBe(401);
    const unknown = await call("GET", `/api/v1/users/${randomUUID()}/credits`, { key: readKey });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: { code: "NOT_FOUND", message: "user not found" } });
  });
});

describe("holds", () => {
  it("POST /credits/holds reserves, capture takes part and returns the rest, release returns all", async () => {
    const user = await signUp();
    await fund(user.id, 100);
    const started = Date.now();
    const hold = await call("POST", "/api/v1/credits/holds", {
      key: fullKey,
      body: { userId: user.id, amount: 40, idempotencyKey: randomUUID(), ttlSeconds: 600 },
    });
    expect(hold.status).toBe(200);
    expect(hold.body).toEqual({
      holdId: expect.stringMatching(UUID),
      userId: user.id,
      amount: 40,
      status: "open",
      capturedAmount: null,
      clawedBack: 0,
      expiresAt: expect.stringMatching(ISO),
      balance: 60,
    });
    const expiresInMs = Date.parse(hold.body.expiresAt) - started;
    expect(expiresInMs).toBeGreaterThan(590_000);
    expect(expiresInMs).toBeLessThan(610_000);

    const capture = await call("POST", `/api/v1/credits/holds/${hold.body.holdId}/capture`, {
      key: fullKey,
      body: { amount: 25 },
    });
    expect(capture.status).toBe(200);
    expect(capture.body).toEqual({ ...hold.body, status: "captured", capturedAmount: 25, balance: 75 });

    const second = await call("POST", "/api/v1/credits/holds", {
      key: fullKey,
      body: { userId: user.id, amount: 30, idempotencyKey: randomUUID() },
    });
    expect(second.status).toBe(200);
    expect(second.body.balance).toBe(45);
    // The contract gives release no body.
    const release = await call("POST", `/api/v1/credits/holds/${second.body.holdId}/release`, { key: fullKey });
    expect(release.status).toBe(200);
    expect(release.body).toEqual({ ...second.body, status: "released", capturedAmount: null, balance: 75 });
    expect(await balanceOf(user.id)).toBe(75);
  });

  it("an unknown hold is a 404 for capture and release; a hold retried with another amount is a 409", async () => {
    const rows = await ledgerRows();
    const missing = randomUUID();
    const capture = await call("POST", `/api/v1/credits/holds/${missing}/capture`, {
      key: fullKey,
      body: { amount: 1 },
    });
    expect(capture.status).toBe(404);
    expect(capture.body).toEqual({ error: { code: "NOT_FOUND", message: "hold not found" } });
    const release = await call("POST", `/api/v1/credits/holds/${missing}/release`, { key: fullKey, body: {} });
    expect(release.status).toBe(404);
    expect(release.body).toEqual({ error: { code: "NOT_FOUND", message: "hold not found" } });
    expect(await ledgerRows()).toBe(rows);

    const user = await signUp();
    await fund(user.id, 100);
    const idempotencyKey = randomUUID();
    const first = await call("POST", "/api/v1/credits/holds", {
      key: fullKey,
      body: { userId: user.id, amount: 10, idempotencyKey },
    });
    expect(first.status).toBe(200);
    const holdCount = await db.$count(holds);
    const conflict = await call("POST", "/api/v1/credits/holds", {
      key: fullKey,
      body: { userId: user.id, amount: 11, idempotencyKey },
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe("IDEMPOTENCY_CONFLICT");
    expect(await db.$count(holds)).toBe(holdCount);

    const tooMuch = await call("POST", `/api/v1/credits/holds/${first.body.holdId}/capture`, {
      key: fullKey,
      body: { amount: 11 },
    });
    expect(tooMuch.status).toBe(400);
    expect(tooMuch.body).toEqual({
      error: { code: "INVALID_INPUT", message: "cannot capture 11: the hold is for 10" },
    });
    expect(await balanceOf(user.id)).toBe(90);
  });
});

describe("GET /me/credits", () => {
  let user: { id: string; cookie: string };
  // Oldest first, as the ledger wrote them.
  // biome-ignore lint/suspicious/noExplicitAny: transactions as the API returned them
  let all: any[];

  beforeAll(async () => {
    user = await signUp("history");
    const steps: [string, number][] = [
      ["grant", 100],
      ["spend", 10],
      ["grant", 5],
      ["spend", 20],
      ["spend", 1],
      ["grant", 7],
      ["spend", 3],
    ];
    for (const [kind, amount] of steps) {
      const reply = await call("POST", `/api/v1/credits/${kind}`, {
        key: fullKey,
        body: { userId: user.id, amount, idempotencyKey: randomUUID(), reason: `${kind} ${amount}` },
      });
      expect(reply.status).toBe(200);
      // Distinct timestamps, so from/to bounds fall between rows.
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    const reply = await call("GET", "/api/v1/me/credits?limit=100&order=asc", { cookie: user.cookie });
    expect(reply.status).toBe(200);
    all = reply.body.transactions;
    expect(all.map((t) => [t.kind, t.amount, t.balanceAfter])).toEqual([
      ["grant", 100, 100],
      ["spend", -10, 90],
      ["grant", 5, 95],
      ["spend", -20, 75],
      ["spend", -1, 74],
      ["grant", 7, 81],
      ["spend", -3, 78],
    ]);
  });

  it("answers {balance, transactions, nextCursor}, newest first by default", async () => {
    const reply = await call("GET", "/api/v1/me/credits", { cookie: user.cookie });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ balance: 78, transactions: [...all].reverse(), nextCursor: null });
    expect(all[0]).toEqual({
      id: expect.stringMatching(UUID),
      kind: "grant",
      amount: 100,
      balanceAfter: 100,
      reason: "grant 100",
      paymentId: null,
      holdId: null,
      createdAt: expect.stringMatching(ISO),
    });
  });

  for (const order of ["desc", "asc"] as const) {
    it(`pages with limit and cursor (order=${order})`, async () => {
      const seen = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query = new URLSearchParams({ limit: "3", order, ...(cursor ? { cursor } : {}) });
        const reply = await call("GET", `/api/v1/me/credits?${query}`, { cookie: user.cookie });
        expect(reply.status).toBe(200);
        expect(reply.body.balance).toBe(78);
        expect(reply.body.transactions.length).toBeLessThanOrEqual(3);
        seen.push(...reply.body.transactions);
        cursor = reply.body.nextCursor;
        pages += 1;
      } while (cursor !== null && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual(order === "asc" ? all : [...all].reverse());
    });
  }

  it("filters by kind (one or several)", async () => {
    const spends = await call("GET", "/api/v1/me/credits?kind=spend&order=asc", { cookie: user.cookie });
    expect(spends.status).toBe(200);
    expect(spends.body.transactions).toEqual(all.filter((t) => t.kind === "spend"));
    const both = await call("GET", "/api/v1/me/credits?kind=spend&kind=grant&order=asc", { cookie: user.cookie });
    expect(both.body.transactions).toEqual(all);
    const holdsOnly = await call("GET", "/api/v1/me/credits?kind=hold", { cookie: user.cookie });
    expect(holdsOnly.body).toEqual({ balance: 78, transactions: [], nextCursor: null });
    const badKind = await call("GET", "/api/v1/me/credits?kind=gift", { cookie: user.cookie });
    expect(badKind.status).toBe(400);
    expect(badKind.body.error.code).toBe("INVALID_INPUT");
  });

  it("bounds by from (inclusive) and to (exclusive)", async () => {
    const from = all[2].createdAt;
    const to = all[5].createdAt;
    const query = new URLSearchParams({ from, to, order: "asc" });
    const reply = await call("GET", `/api/v1/me/credits?${query}`, { cookie: user.cookie });
    expect(reply.status).toBe(200);
    expect(reply.body.transactions).toEqual(all.slice(2, 5));
    const reversed = await call("GET", `/api/v1/me/credits?${new URLSearchParams({ from: to, to: from })}`, {
      cookie: user.cookie,
    });
    expect(reversed.status).toBe(400);
    expect(reversed.body).toEqual({ error: { code: "INVALID_INPUT", message: "from must not be after to" } });
  });

  it("refuses a bad cursor, a bad limit and an unknown parameter with 400", async () => {
    for (const query of [
      "cursor=bm9wZQ",
      "limit=0",
      "limit=101",
      "limit=0x2",
      "limit=1e1",
      "limit=2.5",
      "order=sideways",
      "userId=x",
    ]) {
      const reply = await call("GET", `/api/v1/me/credits?${query}`, { cookie: user.cookie });
      expect(reply.status, query).toBe(400);
      expect(reply.body.error.code, query).toBe("INVALID_INPUT");
    }
  });
});

describe("admin API keys", () => {
  it("creates (key shown once), lists (never the key) and revokes; a revoked key is a 401", async () => {
    const created = await call("POST", "/api/v1/admin/api-keys", {
      cookie: adminCookie,
      body: { name: "billing worker", scopes: ["credits:spend"] },
    });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({
      id: expect.stringMatching(UUID),
      name: "billing worker",
      prefix: expect.stringMatching(/^ck_[a-z2-7]{8}$/),
      scopes: ["credits:spend"],
      key: expect.stringMatching(/^ck_[a-z2-7]{39}$/),
    });
    expect(created.body.key.startsWith(created.body.prefix)).toBe(true);

    const list = await call("GET", "/api/v1/admin/api-keys", { cookie: adminCookie });
    expect(list.status).toBe(200);
    const listed = list.body.apiKeys.find((k: { id: string }) => k.id === created.body.id);
    expect(listed).toEqual({
      id: created.body.id,
      name: "billing worker",
      prefix: created.body.prefix,
      scopes: ["credits:spend"],
      owner: { id: expect.stringMatching(UUID), email: expect.any(String) },
      limits: { grantCreditsPerDay: null, grantCallsPerDay: null, spendCreditsPerDay: null, spendCallsPerDay: null },
      createdAt: expect.stringMatching(ISO),
      lastUsedAt: null,
      revokedAt: null,
    });
    expect(JSON.stringify(list.body)).not.toContain(created.body.key);
    expect(list.body.apiKeys).toHaveLength(await db.$count(apiKeys));

    const revoked = await call("POST", `/api/v1/admin/api-keys/${created.body.id}/revoke`, { cookie: adminCookie });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ id: created.body.id, revokedAt: expect.stringMatching(ISO) });

    const use = await call("POST", "/api/v1/credits/spend", {
      key: created.body.key,
      body: { userId: randomUUID(), amount: 1, idempotencyKey: randomUUID() },
    });
    expect(use.status).toBe(401);
    expect(use.body).toEqual({ error: { code: "UNAUTHENTICATED", message: "invalid or revoked API key" } });

    const unknown = await call("POST", `/api/v1/admin/api-keys/${randomUUID()}/revoke`, { cookie: adminCookie });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("NOT_FOUND");
  });

  it("refuses unknown scopes and fields with 400 and creates nothing", async () => {
    const before = await db.$count(apiKeys);
    for (const body of [
      { name: "x", scopes: ["credits:everything"] },
      { name: "x", scopes: ["credits:read"], ownerUserId: randomUUID() },
      { name: "x", scopes: [] },
    ]) {
      const reply = await call("POST", "/api/v1/admin/api-keys", { cookie: adminCookie, body });
      expect(reply.status).toBe(400);
      expect(reply.body.error.code).toBe("INVALID_INPUT");
    }
    expect(await db.$count(apiKeys)).toBe(before);
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
