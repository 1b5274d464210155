import { randomUUID } from "node:crypto";
import { type Clock, clawBack, createCreditService, InvalidInputError, systemKey } from "@credits/core";
import { describe, expect, it } from "vitest";
import { createLedgerStore } from "../src/ledger-store.ts";
import { createPaymentStore } from "../src/payment-store.ts";
import { creditPackages } from "../src/schema.ts";
import { seedDefaults } from "../src/seed.ts";
import { createUser, expectInvariantHolds, TEST_SCOPE } from "./fixtures.ts";
import { testDb } from "./setup.ts";

// Defects the hostile review of credit grants found (issue 14, ADR 009, drizzle/0008_grant_fixes.sql):
// each test failed before 0008.
const { db } = testDb;
const store = createLedgerStore(db);
let nowMs = Date.parse("2026-06-01T00:00:00Z");
const clock: Clock = { now: () => new Date(nowMs) };
const credits = createCreditService({ store, clock });
const HOUR = 3_600_000;

async function purchase(userId: string, amount: number, expiresAt: Date | null) {
  await seedDefaults(db);
  const [pack] = await db.select({ id: creditPackages.id }).from(creditPackages).limit(1);
  const payment = await createPaymentStore(db).insertPayment({
    userId,
    packageId: pack?.id ?? "",
    credits: amount,
    amountMinor: 500,
    currency: "usd",
    creditExpiryDays: null,
    provider: "stripe",
    idempotencyKey: null,
  });
  if (!payment) throw new Error("payment not inserted");
  await store.post({
    userId,
    amount,
    kind: "purchase",
    idempotencyKey: systemKey.purchase(payment.id),
    paymentId: payment.id,
    grant: { category: "paid", priority: 50, expiresAt },
    at: clock.now(),
  });
  return payment.id;
}

const claw = (userId: string, paymentId: string, wanted: number, kind: "refund_clawback" | "dispute_clawback") =>
  store.transaction((tx) =>
    clawBack(tx, {
      userId,
      wanted,
      kind,
      idempotencyKey: `s:${kind}:${paymentId}:review`,
      paymentId,
      now: clock.now(),
    }),
  );

describe("grants: clawbacks from holds and expiry", () => {
  // A hold reserved the pack's credits before the pack expired; the hold is still open (and could
  // still be captured in full). The refund takes from the hold. Before 0008 the hold release
  // returned the credits to the expired grant and expired them at once, and the refund row that
  // followed found nothing: clawBack's invariant threw, so the refund webhook failed on every retry.
  it("a refund of credits an open hold reserved from a grant that expired since does not fail", async () => {
    nowMs = Date.parse("2026-06-01T00:00:00Z");
    const userId = await createUser(db);
    const expiresAt = new Date(nowMs + HOUR);
    const paymentId = await purchase(userId, 10, expiresAt);
    await credits.hold({ scope: TEST_SCOPE, userId, amount: 10, idempotencyKey: randomUUID(), ttlSeconds: 7200 });
    nowMs = expiresAt.getTime() + 1;
    await expect(claw(userId, paymentId, 10, "refund_clawback")).resolves.toMatchObject({ taken: 10 });
    await expectInvariantHolds(db);
  });

  // Same set-up, a dispute: before 0008 the hold gave up its 10 reserved credits (they vanished as
  // an expiry) and the dispute then took 10 more below zero: 20 credits gone for a 10-credit dispute.
  it("a dispute taking credits out of a hold does not also expire them (no credit both clawed and expired)", async () => {
    nowMs = Date.parse("2026-06-01T00:00:00Z");
    const userId = await createUser(db);
    const expiresAt = new Date(nowMs + HOUR);
    const paymentId = await purchase(userId, 10, expiresAt);
    const { hold } = await credits.hold({
      scope: TEST_SCOPE,
      userId,
      amount: 10,
      idempotencyKey: randomUUID(),
      ttlSeconds: 7200,
    });
    nowMs = expiresAt.getTime() + 1;
    const { fromHolds } = await claw(userId, paymentId, 10, "dispute_clawback");
    expect(fromHolds).toBe(10);
    expect((await store.findHold(hold.id))?.clawedBack).toBe(10);
    // The 10 came out of the hold, so nothing is owed.
    expect(await credits.balance(userId)).toBe(0);
    await expectInvariantHolds(db);
  });

  // Grant terms whose expiresAt is already past: before 0008 the grant was written live, and its
  // ledger row's balance_after and the caller's answer counted credits that were already gone.
  it("a grant whose expiresAt is not after now is refused or answered with the balance it leaves", async () => {
    nowMs = Date.parse("2026-06-01T00:00:00Z");
    const userId = await createUser(db);
    const outcome = await credits
      .grant({
        scope: TEST_SCOPE,
        userId,
        amount: 10,
        idempotencyKey: randomUUID(),
        terms: { expiresAt: new Date(nowMs - 1) },
      })
      .then(
        (result) => result.balance,
        (error: unknown) => error,
      );
    if (outcome instanceof InvalidInputError) return;
    expect(outcome).toBe(await credits.balance(userId));
  });
});

describe("grants: terms already past at the posting", () => {
  // Core refuses such terms; a posting that carries them anyway (another caller, or the clock
  // moving between the check and the posting) expires the grant in the same call.
  it("post_ledger records the expiry of a grant posted with an expiry not after its time", async () => {
    nowMs = Date.parse("2026-06-01T00:00:00Z");
    const userId = await createUser(db);
    await store.post({
      userId,
      amount: 10,
      kind: "grant",
      idempotencyKey: randomUUID(),
      grant: { category: "promotional", priority: 50, expiresAt: new Date(nowMs) },
      at: clock.now(),
    });
    const rows = await store.listEntries({ userId, limit: 10, order: "asc" });
    expect(rows.map((row) => [row.kind, row.amount, row.balanceAfter])).toEqual([
      ["grant", 10, 10],
      ["expiry", -10, 0],
    ]);
    expect(await credits.balance(userId)).toBe(0);
    await expectInvariantHolds(db);
  });
});

describe("grants: spending order", () => {
  // Two grants of one user with the same priority and expiry, written in the same millisecond
  // (one clock reading, or a group-commit batch): "oldest first" used to fall back to the grants'
  // random ids, so about half the time the newer grant was spent first; eight users made that near
  // certain. The creating row's seq breaks the tie now.
  it("of two grants created in the same millisecond, the older is spent first", async () => {
    nowMs = Date.parse("2026-06-01T00:00:00Z");
    const first: string[] = [];
    for (let i = 0; i < 8; i++) {
      const userId = await createUser(db);
      await credits.grant({
        scope: TEST_SCOPE,
        userId,
        amount: 1,
        idempotencyKey: randomUUID(),
        terms: { category: "paid" },
      });
      await credits.grant({
        scope: TEST_SCOPE,
        userId,
        amount: 1,
        idempotencyKey: randomUUID(),
        terms: { category: "adjustment" },
      });
      const spent = await credits.spend({ scope: TEST_SCOPE, userId, amount: 1, idempotencyKey: randomUUID() });
      const [row] = await store.listEntries({ userId, limit: 1, order: "desc" });
      expect(row?.id).toBe(spent.transactionId);
      first.push(row?.allocations[0]?.category ?? "none");
    }
    expect(first).toEqual(Array(8).fill("paid"));
  });
});

describe("grants: dispute reversal", () => {
  // The dispute found the pack's credits spent and took the user to -10; a second pack, whose
  // credits expire in an hour, repaid that debt (so it created no grant). The dispute is then won:
  // the reversal cancels the debt, and the 10 credits the user has again are the second pack's.
  // grant_restore found nothing the clawback took and made them a non-expiring "paid" grant with
  // source "migration" (credits that should expire in an hour never did); now they go back to the
  // repaying pack's grant.
  it("credits a reversal gives back after the debt was repaid keep the repaying pack's expiry", async () => {
    nowMs = Date.parse("2026-06-01T00:00:00Z");
    const userId = await createUser(db);
    const disputed = await purchase(userId, 10, null);
    await credits.spend({ scope: TEST_SCOPE, userId, amount: 10, idempotencyKey: randomUUID() });
    await claw(userId, disputed, 10, "dispute_clawback");
    expect(await credits.balance(userId)).toBe(-10);
    const expiresAt = new Date(nowMs + HOUR);
    await purchase(userId, 10, expiresAt);
    expect(await credits.balance(userId)).toBe(0);
    const reversal = await store.post({
      userId,
      amount: 10,
      kind: "dispute_reversal",
      idempotencyKey: `s:dispute_reversal:${disputed}:review`,
      paymentId: disputed,
      at: clock.now(),
    });
    expect(reversal?.balanceAfter).toBe(10);
    expect(reversal?.allocations.map((a) => a.source)).not.toContain("migration");
    nowMs = expiresAt.getTime() + 1;
    expect(await credits.balance(userId)).toBe(0);
    await expectInvariantHolds(db);
  });
});
