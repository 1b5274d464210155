import { randomUUID } from "node:crypto";
import {
  createCreditService,
  IdempotencyConflictError,
  InsufficientCreditsError,
  InvalidStateError,
} from "@credits/core";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createLedgerStore } from "../src/ledger-store.ts";
import { creditTransactions, holds } from "../src/schema.ts";
import { expectInvariantHolds, fundedUser } from "./fixtures.ts";
import { testDb } from "./setup.ts";

// On PostgreSQL these run on a pool of 40 connections (the test database's poolMax), so the
// statements really do race. PGlite has one connection and runs them one after another: the same
// assertions still hold there, they just prove less.
const { db } = testDb;
const credits = createCreditService({ store: createLedgerStore(db) });
const key = () => randomUUID();

function settle<T>(promises: Promise<T>[]) {
  return Promise.allSettled(promises).then((results) => ({
    ok: results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : [])),
    errors: results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : [])),
  }));
}

async function ledgerRows(userId: string) {
  return db.select().from(creditTransactions).where(eq(creditTransactions.userId, userId));
}

describe("concurrent spends", () => {
  it("200 spends of 1 against a balance of 100: exactly 100 succeed", async () => {
    const userId = await fundedUser(db, credits, 100);
    const { ok, errors } = await settle(
      Array.from({ length: 200 }, () =>
        credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: 1, idempotencyKey: key() }),
      ),
    );
    for (const error of errors) expect(error).toBeInstanceOf(InsufficientCreditsError);
    expect(ok).toHaveLength(100);
    expect(errors).toHaveLength(100);
    // Each success saw its own balance: 99 down to 0, each exactly once.
    expect(ok.map((r) => r.balance).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(new Set(ok.map((r) => r.transactionId)).size).toBe(100);
    expect(await credits.balance(userId)).toBe(0);
    const rows = await ledgerRows(userId);
    expect(rows).toHaveLength(101);
    expect(Math.min(...rows.map((r) => r.balanceAfter))).toBe(0);
    await expectInvariantHolds(db);
    console.log(
      `concurrency: 200 spends → ${ok.length} ok, ${errors.length} insufficient, balance ${await credits.balance(userId)}`,
    );
  });

  it("20 identical spends with one idempotency key debit once and all answer the same", async () => {
    const userId = await fundedUser(db, credits, 100);
    const idempotencyKey = key();
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: 7, idempotencyKey, reason: "job" }),
      ),
    );
    const first = results[0];
    if (!first) throw new Error("no result");
    for (const result of results) expect(result).toEqual({ transactionId: first.transactionId, balance: 93 });
    expect(await credits.balance(userId)).toBe(93);
    const spends = (await ledgerRows(userId)).filter((r) => r.kind === "spend");
    expect(spends).toHaveLength(1);
    expect(spends[0]?.id).toBe(first.transactionId);
    await expectInvariantHolds(db);
  });

  it("20 identical spends that only one of could afford still debit once and all succeed", async () => {
    const userId = await fundedUser(db, credits, 10);
    const idempotencyKey = key();
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: 10, idempotencyKey }),
      ),
    );
    expect(new Set(results.map((r) => r.transactionId)).size).toBe(1);
    expect(results.every((r) => r.balance === 0)).toBe(true);
    expect(await credits.balance(userId)).toBe(0);
  });

  it("one key with two amounts at once: one debit, the other amount is a conflict", async () => {
    const userId = await fundedUser(db, credits, 100);
    const idempotencyKey = key();
    const amounts = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 5 : 8));
    const outcomes = await Promise.allSettled(
      amounts.map((amount) => credits.spend({ scope: { kind: "user", id: "test" }, userId, amount, idempotencyKey })),
    );
    const winners = new Set(outcomes.flatMap((o, i) => (o.status === "fulfilled" ? [amounts[i]] : [])));
    expect(winners.size).toBe(1);
    const winner = [...winners][0] as number;
    const ids = new Set<string>();
    outcomes.forEach((outcome, i) => {
      if (amounts[i] === winner) {
        expect(outcome.status).toBe("fulfilled");
        if (outcome.status === "fulfilled") {
          ids.add(outcome.value.transactionId);
          expect(outcome.value.balance).toBe(100 - winner);
        }
      } else {
        expect(outcome.status).toBe("rejected");
        if (outcome.status === "rejected") expect(outcome.reason).toBeInstanceOf(IdempotencyConflictError);
      }
    });
    expect(ids.size).toBe(1);
    expect(await credits.balance(userId)).toBe(100 - winner);

    // And afterwards: another amount, another kind, another user are all conflicts too.
    const loser = winner === 5 ? 8 : 5;
    await expect(
      credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: loser, idempotencyKey }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
    await expect(
      credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: 1_000, idempotencyKey }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
    await expect(
      credits.grant({ scope: { kind: "user", id: "test" }, userId, amount: winner, idempotencyKey }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
    const later = await settle(
      Array.from({ length: 10 }, () =>
        credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: loser, idempotencyKey }),
      ),
    );
    expect(later.ok).toHaveLength(0);
    for (const error of later.errors) expect(error).toBeInstanceOf(IdempotencyConflictError);
    expect(
      (await credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: winner, idempotencyKey }))
        .transactionId,
    ).toBe([...ids][0]);
    expect(await credits.balance(userId)).toBe(100 - winner);
    expect((await ledgerRows(userId)).filter((r) => r.kind === "spend")).toHaveLength(1);
    await expectInvariantHolds(db);
  });

  it("one hold key used 20 times at once reserves once", async () => {
    const userId = await fundedUser(db, credits, 50);
    const idempotencyKey = key();
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        credits.hold({ scope: { kind: "user", id: "test" }, userId, amount: 30, idempotencyKey }),
      ),
    );
    expect(new Set(results.map((r) => r.hold.id)).size).toBe(1);
    expect(results.every((r) => r.balance === 20)).toBe(true);
    expect(await credits.balance(userId)).toBe(20);
    expect(await db.select().from(holds).where(eq(holds.userId, userId))).toHaveLength(1);
    // Leaves no open hold behind: the random workers below count every expiry in the database.
    expect((await credits.release(results[0]?.hold.id ?? "")).balance).toBe(50);
  });

  it("capture and release racing on one hold: exactly one wins", async () => {
    const userId = await fundedUser(db, credits, 50);
    const { hold } = await credits.hold({
      scope: { kind: "user", id: "test" },
      userId,
      amount: 30,
      idempotencyKey: key(),
    });
    const calls = Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0 ? credits.capture(hold.id, 10) : credits.release(hold.id),
    );
    const { ok, errors } = await settle(calls);
    for (const error of errors) expect(error).toBeInstanceOf(InvalidStateError);
    expect(ok).toHaveLength(10);
    expect(errors).toHaveLength(10);
    const status = ok[0]?.hold.status;
    expect(ok.every((r) => r.hold.status === status)).toBe(true);
    expect(await credits.balance(userId)).toBe(status === "captured" ? 40 : 50);
    await expectInvariantHolds(db);
  });
});
