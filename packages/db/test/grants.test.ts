import { randomUUID } from "node:crypto";
import {
  type Clock,
  clawBack,
  createCreditService,
  InsufficientCreditsError,
  type InvariantViolation,
  systemKey,
} from "@credits/core";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rowsOf } from "../src/client.ts";
import { createLedgerStore } from "../src/ledger-store.ts";
import { createPaymentStore } from "../src/payment-store.ts";
import { creditPackages, creditTransactions } from "../src/schema.ts";
import { seedDefaults } from "../src/seed.ts";
import { createUser, expectInvariantHolds, TEST_SCOPE } from "./fixtures.ts";
import { testDb } from "./setup.ts";

// Credit grants (ADR 009): spending order, expiry at the instant, holds, clawbacks and the sweep.
const { db } = testDb;
const store = createLedgerStore(db);
let nowMs = Date.parse("2026-06-01T00:00:00Z");
const clock: Clock = { now: () => new Date(nowMs) };
const credits = createCreditService({ store, clock });
const HOUR = 3_600_000;

const grant = (userId: string, amount: number, terms: Parameters<typeof credits.grant>[0]["terms"] = {}) =>
  credits.grant({ scope: TEST_SCOPE, userId, amount, idempotencyKey: randomUUID(), terms });
const spend = (userId: string, amount: number) =>
  credits.spend({ scope: TEST_SCOPE, userId, amount, idempotencyKey: randomUUID() });
const entry = async (transactionId: string) => {
  const [row] = await store.listEntries({ userId: (await owner(transactionId)) ?? "", limit: 100, order: "desc" });
  return row;
};
async function owner(transactionId: string) {
  const [row] = await db
    .select({ userId: creditTransactions.userId })
    .from(creditTransactions)
    .where(eq(creditTransactions.id, transactionId));
  return row?.userId;
}
const remaining = async (userId: string) =>
  Object.fromEntries((await store.grantHistory(userId, 100)).map((g) => [g.category, g.remaining]));
const expiryRows = async (userId: string) =>
  rowsOf<{ n: number }>(
    await db.execute(
      sql`SELECT count(*)::int AS n FROM credit_transactions WHERE user_id = ${userId} AND kind = 'expiry'`,
    ),
  )[0]?.n;

// A paid purchase of `credits`, posted as fulfilment posts it.
async function purchase(userId: string, credits: number) {
  await seedDefaults(db);
  const [pack] = await db.select({ id: creditPackages.id }).from(creditPackages).limit(1);
  const payment = await createPaymentStore(db).insertPayment({
    userId,
    packageId: pack?.id ?? "",
    credits,
    amountMinor: 500,
    currency: "usd",
    creditExpiryDays: null,
    provider: "stripe",
    idempotencyKey: null,
  });
  if (!payment) throw new Error("payment not inserted");
  await store.post({
    userId,
    amount: credits,
    kind: "purchase",
    idempotencyKey: systemKey.purchase(payment.id),
    paymentId: payment.id,
    at: clock.now(),
  });
  return payment;
}

class Planted extends Error {
  violations: InvariantViolation[];
  constructor(violations: InvariantViolation[]) {
    super("planted");
    this.violations = violations;
  }
}

describe("credit grants", () => {
  it("spends promotional credits (priority 10) before paid ones, and records where they came from", async () => {
    const userId = await createUser(db);
    await grant(userId, 5, { category: "paid" });
    await grant(userId, 3, { category: "promotional", priority: 10 });
    const spent = await spend(userId, 4);
    const row = await entry(spent.transactionId);
    expect(row?.allocations.map((a) => [a.category, a.amount])).toEqual([
      ["promotional", -3],
      ["paid", -1],
    ]);
    expect(await remaining(userId)).toEqual({ paid: 4, promotional: 0 });
    await expectInvariantHolds(db);
  });

  it("within a priority, the earliest expiry first, then no expiry; the view lists that order", async () => {
    const userId = await createUser(db);
    await grant(userId, 2, { category: "paid" });
    await grant(userId, 2, { category: "promotional", expiresAt: new Date(nowMs + 2 * HOUR) });
    await grant(userId, 2, { category: "adjustment", expiresAt: new Date(nowMs + HOUR) });
    const view = await credits.grants(userId);
    expect(view.grants.map((g) => g.category)).toEqual(["adjustment", "promotional", "paid"]);
    expect(view.nextExpiry).toEqual({ amount: 2, at: new Date(nowMs + HOUR) });
    const spent = await spend(userId, 3);
    expect((await entry(spent.transactionId))?.allocations.map((a) => a.category)).toEqual([
      "adjustment",
      "promotional",
    ]);
  });

  it("an expired grant is not spendable: a spend 1 ms before expiresAt takes it, 1 ms after does not", async () => {
    const userId = await createUser(db);
    const expiresAt = new Date(nowMs + HOUR);
    await grant(userId, 10, { expiresAt });
    nowMs = expiresAt.getTime() - 1;
    expect((await spend(userId, 4)).balance).toBe(6);
    nowMs = expiresAt.getTime() + 1;
    expect(await credits.balance(userId)).toBe(0);
    expect((await credits.grants(userId)).grants).toEqual([]);
    await expect(spend(userId, 1)).rejects.toBeInstanceOf(InsufficientCreditsError);
    // The refused spend recorded the expiry; a sweep finds nothing left to do.
    expect(await expiryRows(userId)).toBe(1);
    await credits.expireGrants();
    expect(await expiryRows(userId)).toBe(1);
    await expectInvariantHolds(db);
  });

  it("at expiresAt exactly the grant is gone, and the sweep records it once", async () => {
    const userId = await createUser(db);
    const expiresAt = new Date(nowMs + HOUR);
    await grant(userId, 7, { expiresAt });
    await grant(userId, 1, { category: "paid" });
    nowMs = expiresAt.getTime();
    expect(await credits.balance(userId)).toBe(1);
    await credits.expireGrants();
    await credits.expireGrants();
    expect(await expiryRows(userId)).toBe(1);
    const [row] = await store.listEntries({ userId, limit: 1, order: "desc" });
    expect(row).toMatchObject({ kind: "expiry", amount: -7, balanceAfter: 1 });
    await expectInvariantHolds(db);
  });

  it("a hold reserves in spending order; a capture consumes the head; the release returns the tail", async () => {
    const userId = await createUser(db);
    await grant(userId, 5, { category: "promotional", priority: 10 });
    await grant(userId, 5, { category: "paid" });
    const { hold } = await credits.hold({ scope: TEST_SCOPE, userId, amount: 8, idempotencyKey: randomUUID() });
    expect(await remaining(userId)).toEqual({ promotional: 0, paid: 2 });
    const captured = await credits.capture(hold.id, 6);
    expect(captured.balance).toBe(4);
    // Reserved 5 promotional + 3 paid; captured 6 = the 5 promotional and 1 paid; 2 paid return.
    expect(await remaining(userId)).toEqual({ promotional: 0, paid: 4 });
    await expectInvariantHolds(db);
  });

  it("credits a hold returns to a grant that expired meanwhile expire at once", async () => {
    const userId = await createUser(db);
    const expiresAt = new Date(nowMs + HOUR);
    await grant(userId, 5, { expiresAt });
    await grant(userId, 5, { category: "paid" });
    const { hold } = await credits.hold({ scope: TEST_SCOPE, userId, amount: 7, idempotencyKey: randomUUID() });
    nowMs = expiresAt.getTime() + 1;
    const released = await credits.release(hold.id);
    expect(released.balance).toBe(5);
    expect(await credits.balance(userId)).toBe(5);
    expect(await remaining(userId)).toEqual({ promotional: 0, paid: 5 });
    expect(await expiryRows(userId)).toBe(1);
    await expectInvariantHolds(db);
  });

  it("a refund claws back its own purchase's grant first, then in spending order", async () => {
    const userId = await createUser(db);
    await grant(userId, 5, { category: "promotional", priority: 10 });
    const payment = await purchase(userId, 10);
    const { entry: clawed } = await store.transaction((tx) =>
      clawBack(tx, {
        userId,
        wanted: 12,
        kind: "refund_clawback",
        idempotencyKey: `s:refund_clawback:${payment.id}:test`,
        paymentId: payment.id,
        now: clock.now(),
      }),
    );
    expect(clawed?.allocations.map((a) => [a.category, a.source, a.amount])).toEqual([
      ["promotional", "api", -2],
      ["paid", "payment", -10],
    ]);
    expect(await remaining(userId)).toEqual({ promotional: 3, paid: 0 });
    await expectInvariantHolds(db);
  });

  it("a dispute takes its payment's grant, then debt; credits repay the debt first; the reversal gives back", async () => {
    const userId = await createUser(db);
    await grant(userId, 5, { category: "promotional", priority: 10 });
    const payment = await purchase(userId, 10);
    await spend(userId, 12);
    const dispute = await store.transaction((tx) =>
      clawBack(tx, {
        userId,
        wanted: 10,
        kind: "dispute_clawback",
        idempotencyKey: `s:dispute_clawback:${payment.id}:test`,
        paymentId: payment.id,
        now: clock.now(),
      }),
    );
    // The purchase's grant had 3 left: the other 7 are debt, taken from no grant.
    expect(dispute.entry?.allocations.map((a) => [a.source, a.amount])).toEqual([["payment", -3]]);
    expect(await credits.balance(userId)).toBe(-7);
    const repaid = await grant(userId, 4);
    expect(repaid.balance).toBe(-3);
    expect((await credits.grants(userId)).grants).toEqual([]);
    const reversal = await store.post({
      userId,
      amount: 10,
      kind: "dispute_reversal",
      idempotencyKey: `s:dispute_reversal:${payment.id}:test`,
      paymentId: payment.id,
      at: clock.now(),
    });
    // 3 repay the debt; 3 go back to the purchase's grant; the other 4 were debt the grant of 4
    // repaid: they go back to that grant, with its terms (0008; never a new 'migration' grant).
    expect(reversal?.balanceAfter).toBe(7);
    expect(reversal?.allocations.map((a) => [a.source, a.amount]).sort()).toEqual([
      ["api", 4],
      ["payment", 3],
    ]);
    await expectInvariantHolds(db);
  });

  it("the per-row invariant checks a disputed user's rows, those without allocations too", async () => {
    const userId = await createUser(db);
    const payment = await purchase(userId, 10);
    await spend(userId, 8);
    const dispute = await store.transaction((tx) =>
      clawBack(tx, {
        userId,
        wanted: 10,
        kind: "dispute_clawback",
        idempotencyKey: `s:dispute_clawback:${payment.id}:test`,
        paymentId: payment.id,
        now: clock.now(),
      }),
    );
    // A credit that only repays debt moves no grant: its row has no allocation.
    const repaid = await grant(userId, 5);
    expect((await entry(repaid.transactionId))?.allocations).toEqual([]);
    await expectInvariantHolds(db);
    // A pair of allocations that leaves every grant's sum alone but says the dispute took one
    // credit more from a grant and the repaying credit gave it one: only the per-row check sees it.
    const [bought] = await store.grantHistory(userId, 10);
    // Planted in a transaction that rolls back: other tests check the whole database.
    const found = await db
      .transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO ledger_allocations (entry_id, grant_id, amount)
                             VALUES (${dispute.entry?.id}, ${bought?.id}, -1), (${repaid.transactionId}, ${bought?.id}, 1)`);
        throw new Planted((await createLedgerStore(tx as never).findInvariantViolations(1000)).violations);
      })
      .catch((error: unknown) => (error instanceof Planted ? error.violations : []));
    expect(found.filter((v) => v.userId === userId)).toEqual([
      expect.objectContaining({ userId, grantsInconsistent: true }),
    ]);
    await expectInvariantHolds(db);
  });
});
