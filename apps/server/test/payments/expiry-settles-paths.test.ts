// The expiry settles (0050, settleAfterExpiry, giveBackBeyondShares) on more paths (review 14): a
// refund through the admin refund service whose answer and charge.refunded both apply; a refund
// that fails at the provider next to an open dispute (the failed refund and the dispute's share in
// one settle); two expiring packs whose refunds took each other's credits (a give-back of one
// landing on the other's expired grant). Setting: expired-credits-helpers.ts (a real server,
// and the same services two days later). "Right" is the reference of expired-credits-histories:
// other packs less what was used of the refunded or disputed share beyond the pack's unused credits.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { expiringCreditsSetting, noted } from "./expired-credits-helpers.ts";
import { deliver, insertUser, ledgerOf, paymentRow, purchaseEvents, startPurchase, stripeEvent } from "./helpers.ts";

const { mock, server, admin, later, buyExpiring, applyLater, holdAcrossExpiry, settleAfterExpiry } =
  await expiringCreditsSetting();

const sum = (rows: { amount: number }[]) => rows.reduce((total, row) => total + row.amount, 0);

describe("expiry settles on more paths", () => {
  it("admin refund while live, answer and charge.refunded both applied, hold released after the expiry: the other pack whole, once", async () => {
    const { userId, expiring, holdId, others } = await holdAcrossExpiry("settles-admin-refund", 60);
    // The refund service of the live server (its refund row is stamped by the database's clock).
    const refund = await server.services.refunds.refund({
      actorId: admin.id,
      paymentId: expiring.paymentId,
      reason: "requested by the customer",
      idempotencyKey: randomUUID(),
    });
    expect(refund.status).toBe("succeeded");
    // The answer applied the refund: the pack's 40 unheld, then 60 of the other pack.
    expect(await server.services.credits.balance(userId)).toBe(others - 60);
    // The charge.refunded the provider sends for the same refund: nothing new.
    expect((await deliver(server.url, purchaseEvents(mock, expiring).refunded(1000))).status).toBe(200);
    expect(await server.services.credits.balance(userId)).toBe(others - 60);

    await later.credits.release(holdId);
    expect(await noted(expiring.paymentId)).toBe(1);
    await settleAfterExpiry();
    expect(await later.credits.balance(userId)).toBe(others);
    // And once more from a late report: nothing moves.
    expect(await applyLater(purchaseEvents(mock, expiring).refunded(1000))).toBe("processed");
    await settleAfterExpiry();
    expect(await later.credits.balance(userId)).toBe(others);
    const rows = await ledgerOf(expiring.paymentId);
    expect(sum(rows.filter((r) => r.kind === "refund_clawback"))).toBe(-100);
    expect(sum(rows.filter((r) => r.kind === "refund_reversal"))).toBe(60);
  });

  // Review 14 F1: 480 right after the failure on 7d69000 (500 only after the next sweep).
  it("half refunded live (pending), a dispute of the rest live, 80 held across the expiry; the refund fails after the release: the other pack whole at once", async () => {
    const userId = await insertUser("settles-fell-dispute");
    const scope = { kind: "user" as const, id: userId };
    const A = await buyExpiring(userId);
    const held = await server.services.credits.hold({
      userId,
      amount: 80,
      idempotencyKey: randomUUID(),
      scope,
      ttlSeconds: 7 * 86_400,
    });
    const B = await startPurchase(server, "standard", userId);
    expect((await deliver(server.url, purchaseEvents(mock, B).completed())).status).toBe(200);
    const events = purchaseEvents(mock, A);
    // Live: half refunded at the provider, pending: the clawback takes A's 20 unheld and 30 of B.
    mock.refundsStart("pending");
    const made = await later.provider
      .createRefund({ paymentIntentId: A.paymentIntent, amountMinor: 500, metadata: {}, idempotencyKey: randomUUID() })
      .finally(() => mock.refundsStart("succeeded"));
    expect((await deliver(server.url, events.refunded(500))).status).toBe(200);
    // Live: a dispute of the charge: its share is the other 50, taken of B.
    expect((await deliver(server.url, events.disputeCreated())).status).toBe(200);
    expect(await server.services.credits.balance(userId)).toBe(500 - 30 - 50);

    // Two days later: the 80 held are released and expire at once (A's 20 went to the refund).
    await later.credits.release(held.hold.id);
    expect(await noted(A.paymentId)).toBe(1);
    // The refund fails: the dispute's share is now all 100, and all of A expired or goes back to A
    // (expired): nothing of B is owed.
    expect(await applyLater(stripeEvent("refund.failed", mock.failRefund(made.id)))).toBe("processed");
    const afterFailure = await later.credits.balance(userId);
    // The settle gives back the dispute's part with what had expired then (80: keeps 20 of B), then
    // the refund's, whose own 20 go back to A's expired grant and expire: the dispute's step runs
    // again and gives the 20 of B back (before, the next sweep did, from the note).
    expect(await noted(A.paymentId)).toBe(1);
    await settleAfterExpiry();
    await settleAfterExpiry();
    const final = await later.credits.balance(userId);
    // The settle that applied the failure had all it needed: right at once, not a sweep later.
    expect({ afterFailure, final }).toEqual({ afterFailure: 500, final: 500 });
    expect(await paymentRow(A.paymentId)).toMatchObject({ creditsRefunded: 0 });
  });

  // Review 14 F2: 440 after one sweep on 7d69000 (500 after the second).
  it("two expiring packs whose refunds took each other's credits: the give-back cascades to the other pack in the same sweep", async () => {
    const userId = await insertUser("settles-cross");
    const scope = { kind: "user" as const, id: userId };
    const P = await buyExpiring(userId);
    const Q = await buyExpiring(userId);
    const B = await startPurchase(server, "standard", userId);
    expect((await deliver(server.url, purchaseEvents(mock, B).completed())).status).toBe(200);
    const hold = (amount: number) =>
      server.services.credits.hold({ userId, amount, idempotencyKey: randomUUID(), scope, ttlSeconds: 7 * 86_400 });
    // Spending order: P's pack (older), Q's, then B. H1 takes all of P's; H2 takes 60 of Q's; H1 released.
    const h1 = await hold(100);
    const h2 = await hold(60);
    await server.services.credits.release(h1.hold.id);
    // Q refunded live: Q's 40, then 60 of P's pack. P refunded live: P's 40, then 60 of B.
    expect((await deliver(server.url, purchaseEvents(mock, Q).refunded(1000))).status).toBe(200);
    expect((await deliver(server.url, purchaseEvents(mock, P).refunded(1000))).status).toBe(200);
    expect(await server.services.credits.balance(userId)).toBe(440);

    // Two days later: H2 released, Q's 60 expire at once; Q is noted and its settle gives back the 60
    // it took of P's pack, which expired: they expire at once and note P, whose settle gives back
    // the 60 it took of B.
    await later.credits.release(h2.hold.id);
    await settleAfterExpiry();
    const afterOneSweep = await later.credits.balance(userId);
    await settleAfterExpiry();
    const afterTwo = await later.credits.balance(userId);
    // Neither pack's credits were used: B whole, after one sweep (its next round reads P's note,
    // written by its own settle of Q).
    expect({ afterOneSweep, afterTwo }).toEqual({ afterOneSweep: 500, afterTwo: 500 });
  });
});
