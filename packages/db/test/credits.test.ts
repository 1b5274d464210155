import { randomUUID } from "node:crypto";
import {
  type Clock,
  createCreditService,
  IdempotencyConflictError,
  InsufficientCreditsError,
  InvalidInputError,
  InvalidStateError,
  MAX_CREDITS_PER_OPERATION,
  NotFoundError,
} from "@credits/core";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createLedgerStore } from "../src/ledger-store.ts";
import { users } from "../src/schema.ts";
import { createUser, expectInvariantHolds, fundedUser } from "./fixtures.ts";
import { testDb } from "./setup.ts";

const { db } = testDb;
let now = new Date("2026-01-01T00:00:00Z");
const clock: Clock = { now: () => now };
const credits = createCreditService({ store: createLedgerStore(db), clock });
const key = () => randomUUID();

describe("grant and spend", () => {
  it("moves the balance and writes one ledger row each", async () => {
    const userId = await createUser(db);
    const granted = await credits.grant({
      scope: { kind: "user", id: "test" },
      userId,
      amount: 50,
      idempotencyKey: key(),
      reason: "welcome",
    });
    expect(granted.balance).toBe(50);
    const spent = await credits.spend({
      scope: { kind: "user", id: "test" },
      userId,
      amount: 20,
      idempotencyKey: key(),
    });
    expect(spent.balance).toBe(30);
    expect(await credits.balance(userId)).toBe(30);
    const { transactions } = await credits.history(userId);
    expect(transactions.map((t) => [t.kind, t.amount, t.balanceAfter])).toEqual([
      ["spend", -20, 30],
      ["grant", 50, 50],
    ]);
    await expectInvariantHolds(db);
  });

  it("refuses a spend above the balance and changes nothing", async () => {
    const userId = await fundedUser(db, credits, 10);
    await expect(
      credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: 11, idempotencyKey: key() }),
    ).rejects.toBeInstanceOf(InsufficientCreditsError);
    expect(await credits.balance(userId)).toBe(10);
    expect((await credits.history(userId)).transactions).toHaveLength(1);
  });

  it("answers a retry with the first result and a changed retry with a conflict", async () => {
    const userId = await fundedUser(db, credits, 100);
    const idempotencyKey = key();
    const first = await credits.spend({
      scope: { kind: "user", id: "test" },
      userId,
      amount: 30,
      idempotencyKey,
      reason: "job 1",
    });
    const again = await credits.spend({
      scope: { kind: "user", id: "test" },
      userId,
      amount: 30,
      idempotencyKey,
      reason: "job 1",
    });
    expect(again).toEqual(first);
    expect(await credits.balance(userId)).toBe(70);
    await expect(
      credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: 31, idempotencyKey, reason: "job 1" }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
    await expect(
      credits.grant({ scope: { kind: "user", id: "test" }, userId, amount: 30, idempotencyKey, reason: "job 1" }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
    const otherUser = await fundedUser(db, credits, 100);
    await expect(
      credits.spend({
        scope: { kind: "user", id: "test" },
        userId: otherUser,
        amount: 30,
        idempotencyKey,
        reason: "job 1",
      }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
    expect(await credits.balance(userId)).toBe(70);
    expect(await credits.balance(otherUser)).toBe(100);
  });

  it("replays a retry even when the balance could no longer pay for it", async () => {
    const userId = await fundedUser(db, credits, 10);
    const idempotencyKey = key();
    const first = await credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: 10, idempotencyKey });
    expect(await credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: 10, idempotencyKey })).toEqual(
      first,
    );
  });

  it("rejects bad amounts, keys and unknown users", async () => {
    const userId = await fundedUser(db, credits, 10);
    for (const amount of [0, -1, 1.5, Number.NaN, MAX_CREDITS_PER_OPERATION + 1]) {
      await expect(
        credits.spend({ scope: { kind: "user", id: "test" }, userId, amount, idempotencyKey: key() }),
      ).rejects.toBeInstanceOf(InvalidInputError);
    }
    await expect(
      credits.grant({ scope: { kind: "user", id: "test" }, userId, amount: 1, idempotencyKey: "" }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    await expect(
      credits.grant({ scope: { kind: "user", id: "test" }, userId: randomUUID(), amount: 1, idempotencyKey: key() }),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(credits.balance(randomUUID())).rejects.toBeInstanceOf(NotFoundError);
    expect(await credits.balance(userId)).toBe(10);
  });
});

describe("history", () => {
  it("pages through every row exactly once in both orders, with filters", async () => {
    const userId = await createUser(db);
    for (let i = 1; i <= 7; i++)
      await credits.grant({ scope: { kind: "user", id: "test" }, userId, amount: i, idempotencyKey: key() });
    for (let i = 1; i <= 3; i++)
      await credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: 1, idempotencyKey: key() });

    for (const order of ["asc", "desc"] as const) {
      const seen: number[] = [];
      let cursor: string | undefined;
      do {
        const page = await credits.history(userId, { limit: 3, order, ...(cursor ? { cursor } : {}) });
        seen.push(...page.transactions.map((t) => t.balanceAfter));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(seen).toHaveLength(10);
      const chronological = order === "asc" ? seen : [...seen].reverse();
      expect(chronological).toEqual([1, 3, 6, 10, 15, 21, 28, 27, 26, 25]);
    }

    const spends = await credits.history(userId, { kinds: ["spend"], limit: 100 });
    expect(spends.transactions.map((t) => t.kind)).toEqual(["spend", "spend", "spend"]);
    const future = await credits.history(userId, { from: new Date(Date.now() + 60_000) });
    expect(future.transactions).toEqual([]);
    const past = await credits.history(userId, { to: new Date(Date.now() + 60_000), limit: 100 });
    expect(past.transactions).toHaveLength(10);
  });

  it("rejects a forged cursor and an out-of-range limit", async () => {
    const userId = await createUser(db);
    await expect(credits.history(userId, { cursor: "bm90LWEtY3Vyc29y" })).rejects.toBeInstanceOf(InvalidInputError);
    await expect(credits.history(userId, { limit: 0 })).rejects.toBeInstanceOf(InvalidInputError);
    await expect(credits.history(userId, { limit: 101 })).rejects.toBeInstanceOf(InvalidInputError);
  });
});

describe("holds", () => {
  it("reserves, captures part and returns the rest", async () => {
    const userId = await fundedUser(db, credits, 100);
    const { hold, balance } = await credits.hold({
      scope: { kind: "user", id: "test" },
      userId,
      amount: 40,
      idempotencyKey: key(),
    });
    expect(balance).toBe(60);
    const captured = await credits.capture(hold.id, 25);
    expect(captured.balance).toBe(75);
    expect(captured.hold).toMatchObject({ status: "captured", capturedAmount: 25 });
    expect(await credits.capture(hold.id, 25)).toMatchObject({ balance: 75 });
    await expect(credits.capture(hold.id, 30)).rejects.toBeInstanceOf(InvalidStateError);
    await expect(credits.release(hold.id)).rejects.toBeInstanceOf(InvalidStateError);
    expect(await credits.balance(userId)).toBe(75);
    await expectInvariantHolds(db);
  });

  it("releases a hold in full, once", async () => {
    const userId = await fundedUser(db, credits, 100);
    const { hold } = await credits.hold({
      scope: { kind: "user", id: "test" },
      userId,
      amount: 100,
      idempotencyKey: key(),
    });
    expect(await credits.balance(userId)).toBe(0);
    expect((await credits.release(hold.id)).balance).toBe(100);
    expect((await credits.release(hold.id)).balance).toBe(100);
    expect(await credits.balance(userId)).toBe(100);
  });

  it("is idempotent per key and refuses what the balance cannot cover", async () => {
    const userId = await fundedUser(db, credits, 50);
    const idempotencyKey = key();
    const first = await credits.hold({ scope: { kind: "user", id: "test" }, userId, amount: 30, idempotencyKey });
    const again = await credits.hold({ scope: { kind: "user", id: "test" }, userId, amount: 30, idempotencyKey });
    expect(again.hold.id).toBe(first.hold.id);
    expect(again.balance).toBe(20);
    await expect(
      credits.hold({ scope: { kind: "user", id: "test" }, userId, amount: 31, idempotencyKey }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
    await expect(
      credits.hold({ scope: { kind: "user", id: "test" }, userId, amount: 21, idempotencyKey: key() }),
    ).rejects.toBeInstanceOf(InsufficientCreditsError);
    await expect(credits.capture(first.hold.id, 31)).rejects.toBeInstanceOf(InvalidInputError);
    await expect(credits.capture(randomUUID(), 1)).rejects.toBeInstanceOf(NotFoundError);
    expect(await credits.balance(userId)).toBe(20);
  });

  it("expires: no capture after the deadline, and the sweep returns the credits once", async () => {
    const userId = await fundedUser(db, credits, 10);
    const { hold } = await credits.hold({
      scope: { kind: "user", id: "test" },
      userId,
      amount: 10,
      idempotencyKey: key(),
      ttlSeconds: 60,
    });
    now = new Date(now.getTime() + 61_000);
    await expect(credits.capture(hold.id, 5)).rejects.toThrow("hold is expired");
    expect(await credits.expireHolds()).toBeGreaterThanOrEqual(1);
    expect(await credits.expireHolds()).toBe(0);
    expect(await credits.balance(userId)).toBe(10);
    const history = await credits.history(userId);
    expect(history.transactions[0]).toMatchObject({ kind: "hold_release", amount: 10, reason: "hold expired" });
    await expectInvariantHolds(db);
  });
});

describe("the database backs the rules", () => {
  it("refuses UPDATE, DELETE and TRUNCATE on the ledger and the audit log", async () => {
    const userId = await fundedUser(db, credits, 5);
    await expect(
      db.execute(sql`UPDATE credit_transactions SET amount = 500 WHERE user_id = ${userId}`),
    ).rejects.toThrow();
    await expect(db.execute(sql`DELETE FROM credit_transactions WHERE user_id = ${userId}`)).rejects.toThrow();
    await expect(db.execute(sql`TRUNCATE credit_transactions CASCADE`)).rejects.toThrow();
    await db.execute(sql`INSERT INTO admin_actions (action, reason) VALUES ('test', 'append-only check')`);
    await expect(db.execute(sql`UPDATE admin_actions SET reason = 'rewritten'`)).rejects.toThrow();
    await expect(db.execute(sql`DELETE FROM admin_actions`)).rejects.toThrow();
    expect((await credits.history(userId)).transactions).toHaveLength(1);
  });

  it("refuses a negative balance that no dispute allows, and zero ledger amounts", async () => {
    const userId = await fundedUser(db, credits, 5);
    await expect(db.update(users).set({ creditsBalance: -1 }).where(eq(users.id, userId))).rejects.toThrow();
    await expect(
      db.execute(
        sql`INSERT INTO credit_transactions (user_id, amount, balance_after, kind, idempotency_key) VALUES (${userId}, 0, 5, 'grant', ${key()})`,
      ),
    ).rejects.toThrow();
  });

  it("lets a dispute clawback go below zero, and flags the user", async () => {
    const userId = await fundedUser(db, credits, 5);
    const entry = await createLedgerStore(db).post({
      userId,
      amount: -8,
      kind: "dispute_clawback",
      idempotencyKey: `test:${key()}`,
      allowNegative: true,
    });
    expect(entry?.balanceAfter).toBe(-3);
    const [row] = await db.select().from(users).where(eq(users.id, userId));
    expect(row?.disputedAt).toBeInstanceOf(Date);
    await expectInvariantHolds(db);
  });

  it("credits still reach a balance a dispute took below zero; debits do not", async () => {
    const userId = await fundedUser(db, credits, 5);
    const store = createLedgerStore(db);
    await store.post({
      userId,
      amount: -8,
      kind: "dispute_clawback",
      idempotencyKey: `test:${key()}`,
      allowNegative: true,
    });
    // Alone (single statement), then several at once (one batch), then inside a transaction.
    expect(
      (await credits.grant({ scope: { kind: "user", id: "test" }, userId, amount: 1, idempotencyKey: key() })).balance,
    ).toBe(-2);
    const together = await Promise.all(
      [1, 1, 1].map((amount) =>
        credits.grant({ scope: { kind: "user", id: "test" }, userId, amount, idempotencyKey: key() }),
      ),
    );
    expect(together.map((r) => r.balance)).toEqual([-1, 0, 1]);
    const inTransaction = await store.transaction((tx) =>
      tx.post({ userId, amount: 2, kind: "grant", idempotencyKey: `test:${key()}` }),
    );
    expect(inTransaction?.balanceAfter).toBe(3);
    await expect(
      credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: 4, idempotencyKey: key() }),
    ).rejects.toBeInstanceOf(InsufficientCreditsError);
    expect(await credits.balance(userId)).toBe(3);
    await expectInvariantHolds(db);
  });

  it("the invariant check finds a balance that drifted from its ledger", async () => {
    const userId = await fundedUser(db, credits, 5);
    await db.update(users).set({ creditsBalance: 6 }).where(eq(users.id, userId));
    const { violations } = await credits.checkInvariants();
    expect(violations).toContainEqual({
      userId,
      balance: 6,
      ledgerSum: 5,
      chainBrokenAtSeq: null,
      grantsRemaining: 5,
      negativeWithoutDispute: false,
      grantsInconsistent: false,
    });
    await db.update(users).set({ creditsBalance: 5 }).where(eq(users.id, userId));
    await expectInvariantHolds(db);
  });
});
