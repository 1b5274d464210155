import { randomUUID } from "node:crypto";
import {
  AlreadyExistsError,
  API_KEY_CACHE_TTL_MS,
  assertScope,
  type Clock,
  createApiKeyService,
  createAuthService,
  createRateLimiter,
  ForbiddenError,
  hasScope,
  InvalidInputError,
  NotFoundError,
  RateLimitedError,
  SESSION_TTL_MS,
  sessionIdOf,
  UnauthenticatedError,
} from "@credits/core";
import { eq, sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { createAccountStore, createApiKeyStore, createRateLimitStore, createSessionStore } from "../src/auth-stores.ts";
import { createDatabase, rowsOf } from "../src/client.ts";
import { apiKeys, sessions, users } from "../src/schema.ts";
import { testDb } from "./setup.ts";

const { db } = testDb;
const DAY_MS = 24 * 60 * 60 * 1000;
const start = new Date("2026-03-01T00:00:00Z");
let now = start;
const clock: Clock = { now: () => now };
const advance = (ms: number) => {
  now = new Date(now.getTime() + ms);
};
beforeEach(() => {
  now = start;
});

const auth = createAuthService({ accounts: createAccountStore(db), sessions: createSessionStore(db), clock });
const keys = createApiKeyService({ store: createApiKeyStore(db), clock });
const email = () => `user-${randomUUID()}@example.test`;
const password = "correct horse battery";

// True when any column of any row of `table` contains `secret`.
async function tableContains(table: "sessions" | "api_keys", secret: string): Promise<boolean> {
  const result = await db.execute(
    sql`SELECT count(*)::int AS n FROM ${sql.identifier(table)} t WHERE t::text LIKE ${`%${secret}%`}`,
  );
  return (rowsOf<{ n: number }>(result)[0]?.n ?? 0) > 0;
}

describe("accounts", () => {
  it("signs up with a normalized email, logs in, and never exposes the password hash", async () => {
    const address = email();
    const signedUp = await auth.signUp({ email: `  ${address.toUpperCase()} `, password, name: " Ada " });
    expect(signedUp.user).toEqual({
      id: expect.any(String),
      email: address,
      name: "Ada",
      role: "user",
      createdAt: expect.any(Date),
    });
    expect(signedUp.token).toMatch(/^[a-z2-7]{32}$/);
    const [row] = await db.select().from(users).where(eq(users.id, signedUp.user.id));
    expect(row?.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const loggedIn = await auth.logIn({ email: address.toUpperCase(), password });
    expect(loggedIn.user).toEqual(signedUp.user);
    expect(JSON.stringify(loggedIn)).not.toContain("argon2");
    expect(await auth.getUser(signedUp.user.id)).toEqual(signedUp.user);
  });

  it("answers a wrong password and an unknown email with the same error", async () => {
    const address = email();
    await auth.signUp({ email: address, password });
    const attempts = [
      { email: address, password: "wrong password!" },
      { email: email(), password },
      { email: "not an email", password },
      { email: address, password: "x".repeat(10_000) },
    ];
    for (const attempt of attempts) {
      await expect(auth.logIn(attempt)).rejects.toThrow(new UnauthenticatedError("invalid email or password"));
    }
  });

  it("validates sign-up input", async () => {
    const cases = [
      { email: "nope", password },
      { email: "a@b", password },
      { email: `${"a".repeat(250)}@example.test`, password },
      { email: email(), password: "short12" },
      { email: email(), password: "x".repeat(201) },
      { email: email(), password, name: "n".repeat(101) },
    ];
    for (const input of cases) await expect(auth.signUp(input)).rejects.toBeInstanceOf(InvalidInputError);
    await expect(auth.signUp({ email: email(), password: "12345678" })).resolves.toBeDefined();
    await expect(auth.signUp({ email: email(), password: "x".repeat(200) })).resolves.toBeDefined();
  });

  it("refuses a duplicate email, whatever its case", async () => {
    const address = email();
    await auth.signUp({ email: address, password });
    await expect(auth.signUp({ email: address.toUpperCase(), password })).rejects.toBeInstanceOf(AlreadyExistsError);
    await expect(auth.createUser({ email: address, password, role: "admin" })).rejects.toBeInstanceOf(
      AlreadyExistsError,
    );
  });

  it("lets exactly one of ten concurrent sign-ups with one email succeed", async () => {
    const address = email();
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => auth.signUp({ email: address, password: `${password} ${i}` })),
    );
    const won = results.filter((result) => result.status === "fulfilled");
    const lost = results.filter((result) => result.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost.every((result) => result.reason instanceof AlreadyExistsError)).toBe(true);
    const rows = await db.select({ id: users.id }).from(users).where(eq(users.email, address));
    expect(rows).toHaveLength(1);
  });

  it("never logs in an erased user or one without a password", async () => {
    const erased = await auth.signUp({ email: email(), password });
    await db.update(users).set({ erasedAt: now }).where(eq(users.id, erased.user.id));
    await expect(auth.logIn({ email: erased.user.email, password })).rejects.toBeInstanceOf(UnauthenticatedError);
    // Its existing session stops working too, and is removed.
    expect(await auth.validateSession(erased.token)).toBeNull();
    expect(await db.select().from(sessions).where(eq(sessions.userId, erased.user.id))).toHaveLength(0);
    expect(await auth.getUser(erased.user.id)).toBeNull();

    const noPassword = email();
    await db.insert(users).values({ email: noPassword });
    await expect(auth.logIn({ email: noPassword, password })).rejects.toBeInstanceOf(UnauthenticatedError);
    await expect(auth.logIn({ email: noPassword, password: "" })).rejects.toBeInstanceOf(UnauthenticatedError);
  });

  it("creates admins for the CLI", async () => {
    const admin = await auth.createUser({ email: email(), password, role: "admin" });
    expect(admin.role).toBe("admin");
    await expect(auth.createUser({ email: email(), password, role: "root" as "admin" })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    expect((await auth.logIn({ email: admin.email, password })).user.role).toBe("admin");
  });
});

describe("sessions", () => {
  it("issues a new token at every log-in and stores only its hash", async () => {
    const address = email();
    const first = await auth.signUp({ email: address, password });
    const second = await auth.logIn({ email: address, password });
    const third = await auth.logIn({ email: address, password });
    expect(new Set([first.token, second.token, third.token]).size).toBe(3);
    for (const { token } of [first, second, third]) {
      expect((await auth.validateSession(token))?.user.id).toBe(first.user.id);
      expect(await tableContains("sessions", token)).toBe(false);
      const [row] = await db
        .select()
        .from(sessions)
        .where(eq(sessions.id, sessionIdOf(token)));
      expect(row?.id).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it("slides the expiry forward once less than 15 days remain", async () => {
    const { token, expiresAt } = await auth.signUp({ email: email(), password });
    expect(expiresAt.getTime()).toBe(start.getTime() + SESSION_TTL_MS);

    advance(14 * DAY_MS); // 16 days left: untouched
    const early = await auth.validateSession(token);
    expect(early?.refreshed).toBe(false);
    expect(early?.session.expiresAt).toEqual(expiresAt);

    advance(2 * DAY_MS); // 14 days left: renewed to 30 from now
    const late = await auth.validateSession(token);
    expect(late?.refreshed).toBe(true);
    expect(late?.session.expiresAt.getTime()).toBe(now.getTime() + SESSION_TTL_MS);
    const [row] = await db
      .select()
      .from(sessions)
      .where(eq(sessions.id, sessionIdOf(token)));
    expect(row?.expiresAt.getTime()).toBe(now.getTime() + SESSION_TTL_MS);

    advance(29 * DAY_MS); // beyond the first expiry, within the renewed one
    expect(await auth.validateSession(token)).not.toBeNull();
  });

  it("rejects and deletes an expired session", async () => {
    const { token } = await auth.signUp({ email: email(), password });
    advance(SESSION_TTL_MS);
    expect(await auth.validateSession(token)).toBeNull();
    expect(
      await db
        .select()
        .from(sessions)
        .where(eq(sessions.id, sessionIdOf(token))),
    ).toHaveLength(0);
    now = start;
    expect(await auth.validateSession(token)).toBeNull();
  });

  it("rejects malformed and unknown tokens", async () => {
    for (const token of ["", "abc", "A".repeat(32), `${"a".repeat(31)}1`, "a".repeat(32)]) {
      expect(await auth.validateSession(token)).toBeNull();
    }
  });

  it("ends one session at log-out and all of a user's at log-out everywhere", async () => {
    const address = email();
    const a = await auth.signUp({ email: address, password });
    const b = await auth.logIn({ email: address, password });
    const c = await auth.logIn({ email: address, password });
    const other = await auth.signUp({ email: email(), password });

    await auth.logOut(a.token);
    await auth.logOut(a.token);
    expect(await auth.validateSession(a.token)).toBeNull();
    expect(await auth.validateSession(b.token)).not.toBeNull();

    expect(await auth.logOutEverywhere(a.user.id)).toBe(2);
    expect(await auth.validateSession(b.token)).toBeNull();
    expect(await auth.validateSession(c.token)).toBeNull();
    expect(await auth.validateSession(other.token)).not.toBeNull();
    expect(await auth.logOutEverywhere("not-a-user-id")).toBe(0);
    expect(await auth.listSessions("not-a-user-id")).toEqual([]);
    expect(await auth.getUser("not-a-user-id")).toBeNull();
  });

  it("lists live sessions by a short reference, never the token", async () => {
    const address = email();
    const old = await auth.signUp({ email: address, password });
    advance(DAY_MS);
    const current = await auth.logIn({ email: address, password });
    const listed = await auth.listSessions(current.user.id);
    expect(listed.map((s) => s.createdAt)).toEqual([now, start]);
    const validated = await auth.validateSession(current.token);
    expect(listed[0]?.id).toBe(validated?.session.id);
    for (const session of listed) {
      expect(session.id).toMatch(/^[0-9a-f]{12}$/);
      expect(Object.keys(session).sort()).toEqual(["createdAt", "expiresAt", "id"]);
    }
    expect(JSON.stringify(listed)).not.toContain(old.token);
    expect(JSON.stringify(listed)).not.toContain(sessionIdOf(old.token));
    advance(SESSION_TTL_MS - DAY_MS); // the first has expired
    expect(await auth.listSessions(current.user.id)).toHaveLength(1);
  });
});

describe("API keys", () => {
  // Every key has an owner: the admin who made it.
  const admin = async () => (await auth.createUser({ email: email(), password, role: "admin" })).id;

  it("shows the key once and stores only its hash", async () => {
    const created = await keys.create({
      name: " billing job ",
      scopes: ["credits:spend", "credits:read"],
      ownerUserId: await admin(),
    });
    expect(created.key).toMatch(/^ck_[a-z2-7]{39}$/);
    expect(created.key.startsWith(created.prefix)).toBe(true);
    expect(created).toMatchObject({ name: "billing job", scopes: ["credits:read", "credits:spend"] });
    expect(await tableContains("api_keys", created.key)).toBe(false);
    const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, created.id));
    expect(row?.keyHash).toMatch(/^[0-9a-f]{64}$/);
    const listed = (await keys.list()).find((key) => key.id === created.id);
    expect(listed).toBeDefined();
    expect(JSON.stringify(listed)).not.toContain(created.key);
    expect(JSON.stringify(listed)).not.toContain(row?.keyHash);
  });

  it("authenticates with its scopes, owner and limits", async () => {
    const owner = { user: { id: await admin() } };
    const created = await keys.create({
      name: "reader",
      scopes: ["credits:read"],
      ownerUserId: owner.user.id,
      limits: { spendCallsPerDay: 3 },
    });
    const principal = await keys.authenticate(created.key);
    expect(principal).toEqual({
      id: created.id,
      name: "reader",
      scopes: ["credits:read"],
      ownerUserId: owner.user.id,
      limits: { grantCreditsPerDay: null, grantCallsPerDay: null, spendCreditsPerDay: null, spendCallsPerDay: 3 },
    });
    if (!principal) throw new Error("unreachable");
    expect(hasScope(principal, "credits:read")).toBe(true);
    expect(hasScope(principal, "credits:spend")).toBe(false);
    expect(() => assertScope(principal, "credits:grant")).toThrow(ForbiddenError);
    expect((await keys.list({ ownerUserId: owner.user.id })).map((key) => key.id)).toEqual([created.id]);
  });

  it("validates names, scopes, limits and owners: only a live admin owns a key", async () => {
    const ownerUserId = await admin();
    const bad = [
      { name: "", scopes: ["credits:read"] },
      { name: "x".repeat(101), scopes: ["credits:read"] },
      { name: "k", scopes: [] },
      { name: "k", scopes: ["credits:read", "admin:all"] },
      { name: "k", scopes: ["credits:read"], limits: { grantCreditsPerDay: 0 } },
      { name: "k", scopes: ["credits:read"], limits: { spendCallsPerDay: 2.5 } },
    ];
    for (const input of bad) {
      await expect(keys.create({ ...input, ownerUserId })).rejects.toBeInstanceOf(InvalidInputError);
    }
    const plain = (await auth.signUp({ email: email(), password })).user.id;
    for (const owner of [randomUUID(), "nope", plain]) {
      await expect(keys.create({ name: "k", scopes: ["credits:read"], ownerUserId: owner })).rejects.toBeInstanceOf(
        ForbiddenError,
      );
    }
    expect(await db.$count(apiKeys, eq(apiKeys.name, "k"))).toBe(0);
  });

  it("refuses malformed, unknown, revoked keys and keys of erased owners", async () => {
    const created = await keys.create({ name: "soon revoked", scopes: ["credits:grant"], ownerUserId: await admin() });
    const unknown = `ck_${"a".repeat(39)}`;
    for (const key of ["", "ck_", created.key.toUpperCase(), `${created.key}a`, unknown]) {
      expect(await keys.authenticate(key)).toBeNull();
    }
    const first = await keys.revoke(created.id);
    expect(first.revokedAt).toEqual(start);
    expect(await keys.authenticate(created.key)).toBeNull();
    advance(5_000);
    expect((await keys.revoke(created.id)).revokedAt).toEqual(start);
    await expect(keys.revoke(randomUUID())).rejects.toBeInstanceOf(NotFoundError);
    await expect(keys.revoke("not-a-uuid")).rejects.toBeInstanceOf(NotFoundError);

    const owner = { user: { id: await admin() } };
    const owned = await keys.create({ name: "owned", scopes: ["credits:read"], ownerUserId: owner.user.id });
    await db.update(users).set({ erasedAt: now, email: null }).where(eq(users.id, owner.user.id));
    await expect(keys.authenticate(owned.key)).rejects.toBeInstanceOf(UnauthenticatedError);
  });

  it("records last use at most once a minute", async () => {
    const store = createApiKeyStore(db);
    const touches = { attempted: 0, written: 0 };
    const counted = createApiKeyService({
      clock,
      store: {
        ...store,
        touchApiKey: async (...args) => {
          touches.attempted++;
          const written = await store.touchApiKey(...args);
          if (written) touches.written++;
          return written;
        },
      },
    });
    const created = await counted.create({ name: "hot path", scopes: ["credits:read"], ownerUserId: await admin() });
    const lastUsed = async () => (await counted.list()).find((key) => key.id === created.id)?.lastUsedAt;
    expect(await lastUsed()).toBeNull();
    await counted.authenticate(created.key);
    expect(await lastUsed()).toEqual(start);
    advance(30_000);
    await counted.authenticate(created.key);
    await counted.authenticate(created.key);
    expect(await lastUsed()).toEqual(start);
    // Within the minute the hot path did not even try to write.
    expect(touches).toEqual({ attempted: 1, written: 1 });
    advance(30_001);
    await counted.authenticate(created.key);
    expect(await lastUsed()).toEqual(now);
    expect(touches).toEqual({ attempted: 2, written: 2 });
    // Concurrent requests past the minute may all try, but the conditional UPDATE writes once.
    advance(61_000);
    const results = await Promise.all(Array.from({ length: 10 }, () => counted.authenticate(created.key)));
    expect(results.every((principal) => principal?.id === created.id)).toBe(true);
    expect(await lastUsed()).toEqual(now);
    expect(touches.written).toBe(3);
  });

  it("remembers a live key for a few seconds, and forgets it at revocation or the owner's erasure", async () => {
    const store = createApiKeyStore(db);
    let reads = 0;
    const cached = createApiKeyService({
      clock,
      store: {
        ...store,
        findApiKeyByHash: (hash) => {
          reads++;
          return store.findApiKeyByHash(hash);
        },
      },
    });
    const created = await cached.create({ name: "cached", scopes: ["credits:spend"], ownerUserId: await admin() });
    expect((await cached.authenticate(created.key))?.id).toBe(created.id);
    advance(API_KEY_CACHE_TTL_MS - 1);
    expect((await cached.authenticate(created.key))?.id).toBe(created.id);
    expect(reads).toBe(1);
    advance(1);
    await cached.authenticate(created.key);
    expect(reads).toBe(2);
    await cached.revoke(created.id);
    expect(await cached.authenticate(created.key)).toBeNull();

    const owner = { user: { id: await admin() } };
    const owned = await cached.create({ name: "owned", scopes: ["credits:read"], ownerUserId: owner.user.id });
    expect(await cached.authenticate(owned.key)).not.toBeNull();
    await db.update(users).set({ erasedAt: now, email: null }).where(eq(users.id, owner.user.id));
    cached.forgetOwner(owner.user.id);
    await expect(cached.authenticate(owned.key)).rejects.toBeInstanceOf(UnauthenticatedError);
  });
});

describe("rate limiter", () => {
  const store = createRateLimitStore(db);

  it("refuses past the limit until the window is over", async () => {
    const limiter = createRateLimiter({ store, clock, limit: 3, windowMs: 60_000 });
    const key = `login:${randomUUID()}`;
    expect((await limiter.consume(key)).remaining).toBe(2);
    expect((await limiter.consume(key)).remaining).toBe(1);
    expect(await limiter.consume(key)).toEqual({ remaining: 0, resetAt: new Date(start.getTime() + 60_000) });
    await expect(limiter.consume(key)).rejects.toMatchObject({ code: "RATE_LIMITED", retryAfterSeconds: 60 });
    expect((await limiter.consume(`login:${randomUUID()}`)).remaining).toBe(2);
    advance(30_500);
    await expect(limiter.consume(key)).rejects.toMatchObject({ retryAfterSeconds: 30 });
    advance(29_500);
    expect(await limiter.consume(key)).toEqual({ remaining: 2, resetAt: new Date(now.getTime() + 60_000) });
  });

  it("hashes long keys and still counts them", async () => {
    const limiter = createRateLimiter({ store, clock, limit: 1, windowMs: 1_000 });
    const key = `signup:${"x".repeat(500)}:${randomUUID()}`;
    await limiter.consume(key);
    await expect(limiter.consume(key)).rejects.toBeInstanceOf(RateLimitedError);
    expect(() => createRateLimiter({ store, clock, limit: 0, windowMs: 1 })).toThrow(InvalidInputError);
  });

  it("shares one budget between limiters on separate connections", async () => {
    // On PostgreSQL the second limiter has its own connection pool, as another server would.
    const second = testDb.url ? createDatabase({ url: testDb.url, poolMax: 10 }) : null;
    try {
      const config = { clock, limit: 5, windowMs: 60_000 };
      const a = createRateLimiter({ store, ...config });
      const b = createRateLimiter({ store: second ? createRateLimitStore(second.db) : store, ...config });
      const key = `login:${randomUUID()}`;
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).consume(key)));
      const passed = results.filter((result) => result.status === "fulfilled");
      const refused = results.filter((result) => result.status === "rejected");
      expect(passed).toHaveLength(5);
      expect(refused.every((result) => result.reason instanceof RateLimitedError)).toBe(true);
      advance(60_000);
      await expect(b.consume(key)).resolves.toMatchObject({ remaining: 4 });
      await expect(a.consume(key)).resolves.toMatchObject({ remaining: 3 });
    } finally {
      await second?.close();
    }
  });
});
