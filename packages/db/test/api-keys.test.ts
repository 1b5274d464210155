import { randomUUID } from "node:crypto";
import {
  API_KEY_CACHE_TTL_MS,
  assertScope,
  createApiKeyService,
  createRateLimiter,
  ForbiddenError,
  hasScope,
  InvalidInputError,
  NotFoundError,
  RateLimitedError,
  UnauthenticatedError,
} from "@credits/core";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createApiKeyStore, createRateLimitStore } from "../src/auth-stores.ts";
import { createDatabase } from "../src/client.ts";
import { apiKeys, users } from "../src/schema.ts";
import { advance, auth, clock, db, email, keys, now, password, start, tableContains } from "./auth-fixtures.ts";
import { testDb } from "./setup.ts";

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
    expect(await limiter.consume(key)).toEqual({
      limit: 3,
      windowMs: 60_000,
      remaining: 0,
      resetAt: new Date(start.getTime() + 60_000),
      resetSeconds: 60,
    });
    await expect(limiter.consume(key)).rejects.toMatchObject({ code: "RATE_LIMITED", retryAfterSeconds: 60 });
    expect((await limiter.consume(`login:${randomUUID()}`)).remaining).toBe(2);
    advance(30_500);
    await expect(limiter.consume(key)).rejects.toMatchObject({ retryAfterSeconds: 30 });
    advance(29_500);
    expect(await limiter.consume(key)).toMatchObject({ remaining: 2, resetAt: new Date(now.getTime() + 60_000) });
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
