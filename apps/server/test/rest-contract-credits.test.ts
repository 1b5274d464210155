// The REST contract (/api/v1) through real HTTP: every endpoint's success status and shape, and
// every error status clients are promised, with the rule that a refused request writes nothing.
// Here: credits and holds through an API key.
import { randomUUID } from "node:crypto";
import { holds } from "@credits/db/schema";
import { describe, expect, it } from "vitest";
import {
  adminCookie,
  balanceOf,
  call,
  db,
  fullKey,
  fund,
  ISO,
  ledgerRows,
  provisionAdminKeys,
  readKey,
  signUp,
  UUID,
} from "./rest-contract-helpers.ts";

provisionAdminKeys();

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
      const grant = {
        id: expect.stringMatching(UUID),
        category: "promotional",
        priority: 50,
        remaining: 42,
        expiresAt: null,
        createdAt: expect.stringMatching(ISO),
      };
      expect(reply.body).toEqual({
        balance: 42,
        grants: [grant],
        nextExpiry: null,
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
            allocations: [{ grantId: reply.body.grants[0]?.id, amount: 42, category: "promotional", source: "api" }],
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
