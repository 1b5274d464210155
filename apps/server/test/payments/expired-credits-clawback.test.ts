// Credits of a payment that expired are not clawed back a second time (ADR 009, "Clawbacks after
// expiry"; review 9). The refund's or dispute's share of the payment's credits used to be taken
// whatever became of them: with the pack's grant emptied by its expiry, from the user's other
// grants (a refund) or below zero as debt (a dispute), so the same credits left the balance twice.
//
// The setting (expired-credits-helpers.ts): purchases by the real server, later events applied by
// the same services two days later, balances read at that clock.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { expiringCreditsSetting } from "./expired-credits-helpers.ts";
import { balanceOf, deliver, insertUser, paymentsOf, purchaseEvents, startPurchase } from "./helpers.ts";

const { mock, server, later, buyExpiring, applyLater } = await expiringCreditsSetting();

describe("a refund or dispute after the payment's credits expired", () => {
  it("a full refund of a pack whose credits all expired takes nothing from another pack", async () => {
    const userId = await insertUser("expired-refund");
    const expired = await buyExpiring(userId);
    const other = await startPurchase(server, "standard", userId);
    expect((await deliver(server.url, purchaseEvents(mock, other).completed())).status).toBe(200);
    expect(await balanceOf(userId)).toBe(100 + other.credits);

    // Two days later the expiring pack's 100 credits are gone (never used): only the other pack's remain.
    expect(await later.credits.balance(userId)).toBe(other.credits);

    // The expiring pack is refunded in full (e.g. at the dashboard, or an admin's refund's charge.refunded).
    expect(await applyLater(purchaseEvents(mock, expired).refunded(1000))).toBe("processed");

    // Nothing of the refunded pack was left to take back; the user never used a credit of it.
    expect(await later.credits.balance(userId)).toBe(other.credits);
  });

  it("30 of the pack used, 70 expired: a full refund takes the 30 used", async () => {
    const userId = await insertUser("expired-partly");
    const expired = await buyExpiring(userId);
    const other = await startPurchase(server, "standard", userId);
    expect((await deliver(server.url, purchaseEvents(mock, other).completed())).status).toBe(200);
    // The expiring pack is spent first (earliest expiry), as the spending order says.
    await server.services.credits.spend({
      scope: { kind: "user", id: userId },
      userId,
      amount: 30,
      idempotencyKey: randomUUID(),
    });
    expect(await later.credits.balance(userId)).toBe(other.credits);

    expect(await applyLater(purchaseEvents(mock, expired).refunded(1000))).toBe("processed");

    // The 30 used are owed back (taken from the other pack, as for any spent credits); the 70 that
    // expired left the balance once already.
    expect(await later.credits.balance(userId)).toBe(other.credits - 30);
  });

  it("a dispute of a pack whose credits all expired leaves a user who spent nothing at zero, not in debt", async () => {
    const userId = await insertUser("expired-dispute");
    const expired = await buyExpiring(userId);
    expect(await later.credits.balance(userId)).toBe(0);

    expect(await applyLater(purchaseEvents(mock, expired).disputeCreated())).toBe("processed");

    // The 100 credits already expired; the dispute has nothing left to take (it used to leave -100,
    // a debt the user's next purchase repays: 200 credits gone for a 100-credit dispute).
    expect(await later.credits.balance(userId)).toBe(0);
  });

  it("half refunded while live, the rest expired: the full refund takes nothing more", async () => {
    const userId = await insertUser("expired-after-half");
    const expired = await buyExpiring(userId);
    const other = await startPurchase(server, "standard", userId);
    expect((await deliver(server.url, purchaseEvents(mock, other).completed())).status).toBe(200);
    // Half refunded now: 50 credits taken back from the pack's own grant.
    expect((await deliver(server.url, purchaseEvents(mock, expired).refunded(500))).status).toBe(200);
    expect(await balanceOf(userId)).toBe(50 + other.credits);
    // Two days later its other 50 have expired; then the rest of the money is refunded.
    expect(await later.credits.balance(userId)).toBe(other.credits);
    expect(await applyLater(purchaseEvents(mock, expired).refunded(1000))).toBe("processed");
    // 50 taken back and 50 expired: the pack's 100 are gone once, the other pack untouched.
    expect(await later.credits.balance(userId)).toBe(other.credits);
    const [payment] = (await paymentsOf(userId)).filter((p) => p.id === expired.paymentId);
    expect(payment).toMatchObject({ creditsRefunded: 50, reviewReason: null });
  });

  it("half refunded while live, the rest expired, then a dispute: no debt for credits already gone", async () => {
    const userId = await insertUser("expired-dispute-after-half");
    const expired = await buyExpiring(userId);
    // 50 taken back now by a refund of half the money.
    expect((await deliver(server.url, purchaseEvents(mock, expired).refunded(500))).status).toBe(200);
    expect(await balanceOf(userId)).toBe(50);
    // Two days later the other 50 expired: nothing of the pack is left, nothing was ever spent.
    expect(await later.credits.balance(userId)).toBe(0);
    // The customer disputes the charge.
    expect(await applyLater(purchaseEvents(mock, expired).disputeCreated())).toBe("processed");
    const [payment] = (await paymentsOf(userId)).filter((p) => p.id === expired.paymentId);
    // The pack's 100: 50 clawed back by the refund, 50 expired. The dispute's 50 share expired
    // already; the user should not be left in debt for it.
    expect({ balance: await later.credits.balance(userId), creditsDisputed: payment?.creditsDisputed }).toEqual({
      balance: 0,
      creditsDisputed: 0,
    });
  });

  it("a dispute took the pack live, a refund's report comes after the expiry: the dispute's give-back expires at once, the refund takes nothing more", async () => {
    const userId = await insertUser("expired-dispute-then-refund");
    const expired = await buyExpiring(userId);
    const other = await startPurchase(server, "standard", userId);
    expect((await deliver(server.url, purchaseEvents(mock, other).completed())).status).toBe(200);
    // The dispute opens while the pack is live: its 100 credits taken back from its own grant.
    expect((await deliver(server.url, purchaseEvents(mock, expired).disputeCreated())).status).toBe(200);
    expect(await balanceOf(userId)).toBe(other.credits);
    // Two days later a report of half the money refunded arrives (a refund made before the dispute,
    // its charge.refunded delivered late): the dispute's share shrinks to 50, the refund's is 50.
    expect(await applyLater(purchaseEvents(mock, expired).refunded(500))).toBe("processed");
    const [payment] = (await paymentsOf(userId)).filter((p) => p.id === expired.paymentId);
    // The pack's 100 all left the balance (dispute clawback; the 50 given back expired at once):
    // the other pack owes nothing.
    expect({
      balance: await later.credits.balance(userId),
      creditsRefunded: payment?.creditsRefunded,
      creditsDisputed: payment?.creditsDisputed,
    }).toEqual({ balance: other.credits, creditsRefunded: 0, creditsDisputed: 50 });
  });
});
