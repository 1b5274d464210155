// A failed refund after the payment's credits expired (ADR 009). Review 10 F3: it gave back only
// what exceeded the refund's new share, as if nothing of the payment had expired. Review 11: it gave
// back to the refunded pack's grant first (expired: the credits expired at once), not to the other
// grant its clawback had taken from last. Either way the user ended with fewer credits than a
// single refund of that share leaves.
//
// The setting (expired-credits-helpers.ts): purchases by the real server, later events applied by
// the same services two days later, balances read at that clock.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { expiringCreditsSetting } from "./expired-credits-helpers.ts";
import {
  balanceOf,
  deliver,
  insertUser,
  type Purchase,
  paymentsOf,
  purchaseEvents,
  startPurchase,
  stripeEvent,
} from "./helpers.ts";

const { mock, server, later, buyExpiring, applyLater } = await expiringCreditsSetting();

async function buyBoth(label: string) {
  const userId = await insertUser(label);
  const expiring = await buyExpiring(userId);
  const other = await startPurchase(server, "standard", userId);
  expect((await deliver(server.url, purchaseEvents(mock, other).completed())).status).toBe(200);
  return { userId, expiring, other };
}

const scope = (userId: string) => ({ kind: "user" as const, id: userId });

// A refund of the expiring pack made at Stripe's dashboard (through the real SDK, against msw),
// its charge.refunded applied two days later.
async function dashboardRefund(purchase: Purchase, amountMinor: number, refundedInAll: number) {
  const refund = await later.provider.createRefund({
    paymentIntentId: purchase.paymentIntent,
    amountMinor,
    metadata: {},
    idempotencyKey: randomUUID(),
  });
  expect(await applyLater(purchaseEvents(mock, purchase).refunded(refundedInAll))).toBe("processed");
  return refund.id;
}

describe("a clawback after the payment's credits expired", () => {
  it("a failed refund gives back what it took when what expired covers the refund's new share", async () => {
    const { userId, expiring, other } = await buyBoth("expired-refund-failed");
    // 30 of the expiring pack used; two days later its other 70 have expired.
    await server.services.credits.spend({ userId, amount: 30, idempotencyKey: randomUUID(), scope: scope(userId) });
    expect(await later.credits.balance(userId)).toBe(other.credits);

    // Half the money refunded: its 50 credits are among the 70 that expired; nothing is taken.
    await dashboardRefund(expiring, 500, 500);
    expect(await later.credits.balance(userId)).toBe(other.credits);
    // The other half, pending at the bank: the 30 used are owed back, taken from the other pack.
    mock.refundsStart("pending");
    const pending = await dashboardRefund(expiring, 500, 1000).finally(() => mock.refundsStart("succeeded"));
    expect(await later.credits.balance(userId)).toBe(other.credits - 30);

    // The bank sends the second refund back: half the money is refunded, as after the first,
    // whose 50 credits had expired. The 30 come back (they stayed taken).
    expect(await applyLater(stripeEvent("refund.failed", mock.failRefund(pending)))).toBe("processed");
    expect(await later.credits.balance(userId)).toBe(other.credits);
    const [payment] = (await paymentsOf(userId)).filter((p) => p.id === expiring.paymentId);
    expect(payment).toMatchObject({ amountRefundedMinor: 500, creditsRefunded: 0 });
  });

  it("a failed refund gives back to the grants its clawback took last: the payment's own last (0049)", async () => {
    const userId = await insertUser("expired-refund-failed-order");
    const pack = await buyExpiring(userId);
    // 30 of the expiring pack used, then 100 promotional credits at priority 10 (spent first from now on).
    await server.services.credits.spend({ userId, amount: 30, idempotencyKey: randomUUID(), scope: scope(userId) });
    await server.services.credits.grant({
      userId,
      amount: 100,
      idempotencyKey: randomUUID(),
      scope: scope(userId),
      reason: "promo",
      terms: { category: "promotional", priority: 10 },
    });
    // Half refunded while the pack is live: 50 of its 70 taken back.
    await later.provider.createRefund({
      paymentIntentId: pack.paymentIntent,
      amountMinor: 500,
      metadata: {},
      idempotencyKey: randomUUID(),
    });
    expect((await deliver(server.url, purchaseEvents(mock, pack).refunded(500))).status).toBe(200);
    // The other half, pending at the bank: the pack's last 20, then 30 of the promotional grant.
    mock.refundsStart("pending");
    const pending = await later.provider
      .createRefund({
        paymentIntentId: pack.paymentIntent,
        amountMinor: 500,
        metadata: {},
        idempotencyKey: randomUUID(),
      })
      .finally(() => mock.refundsStart("succeeded"));
    expect((await deliver(server.url, purchaseEvents(mock, pack).refunded(1000))).status).toBe(200);
    expect(await balanceOf(userId)).toBe(70);
    // Two days later the bank sends the second refund back: half refunded, as after the first
    // alone, which leaves the promotional 100 (the pack's 20 expired). 70 before 0049.
    expect(await applyLater(stripeEvent("refund.failed", mock.failRefund(pending.id)))).toBe("processed");
    expect(await later.credits.balance(userId)).toBe(100);
  });
});
