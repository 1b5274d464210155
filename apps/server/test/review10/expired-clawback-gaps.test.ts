// Review 10: sequences the expired-credits clawback (settle.ts, b927b49) still gets wrong.
// Same set-up as apps/server/test/payments/expired-credits-clawback.test.ts: purchases by the real
// server, later events applied by the same services built with a clock two days ahead.
import { randomUUID } from "node:crypto";
import type { Clock } from "@credits/core";
import { parseEnv } from "@credits/env";
import { describe, expect, it } from "vitest";
import { createServices } from "../../src/services.ts";
import {
  balanceOf,
  charge,
  deliver,
  failOnLoggedError,
  insertUser,
  type Purchase,
  paymentsOf,
  purchaseEvents,
  randomStripeId,
  sessionIdOf,
  signedWebhook,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
  stripeEvent,
  testDb,
  WEBHOOK_SECRET,
} from "../payments/helpers.ts";
import { createAdmin } from "../payments/refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
const admin = await createAdmin(server);
failOnLoggedError();

const DAY = 86_400_000;
const TWO_DAYS_LATER: Clock = { now: () => new Date(Date.now() + 2 * DAY) };
const later = createServices(parseEnv({ NODE_ENV: "test", PUBLIC_URL: "http://localhost:3000", ...stripeEnv }), {
  db: testDb.db,
  clock: TWO_DAYS_LATER,
});

const expiring = await server.services.catalog.create(
  { actorId: admin.id },
  {
    name: `Expiring ${randomUUID().slice(0, 8)}`,
    credits: 100,
    prices: [{ currency: "usd", unitAmount: 1000 }],
    creditExpiryDays: 1,
    position: 0,
    highlight: false,
  },
);

async function buyExpiring(userId: string): Promise<Purchase> {
  const { paymentId, checkoutUrl } = await server.services.payments.createCheckout(userId, expiring.id);
  const purchase: Purchase = {
    userId,
    paymentId,
    sessionId: sessionIdOf(checkoutUrl),
    paymentIntent: randomStripeId("pi"),
    chargeId: randomStripeId("ch"),
    credits: 100,
    amountMinor: 1000,
  };
  expect((await deliver(server.url, purchaseEvents(mock, purchase).completed())).status).toBe(200);
  mock.addCharge(
    charge({ id: purchase.chargeId, amount: 1000, amount_refunded: 0, payment_intent: purchase.paymentIntent }),
  );
  return purchase;
}

async function applyLater(event: Record<string, unknown>) {
  const { body, signature } = signedWebhook(event, WEBHOOK_SECRET);
  const parsed = later.provider.parseWebhook(body, signature);
  return later.payments.handleEvent(parsed, body);
}

describe("review10: expired credits and clawbacks", () => {
  it("F1: half refunded while live, the rest expired, then a dispute: no debt for credits already gone", async () => {
    const userId = await insertUser("r10-dispute-after-half");
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

  it("F2: a hold of the pack's credits open across the expiry: the refund takes the user's other pack, the hold's credits then expire too", async () => {
    const userId = await insertUser("r10-hold-across-expiry");
    const expired = await buyExpiring(userId);
    const other = await startPurchase(server, "standard", userId);
    expect((await deliver(server.url, purchaseEvents(mock, other).completed())).status).toBe(200);
    // 60 of the expiring pack (spent first: earliest expiry) reserved by a 3-day hold.
    const { hold } = await server.services.credits.hold({
      userId,
      amount: 60,
      idempotencyKey: randomUUID(),
      scope: { kind: "user", id: userId },
      ttlSeconds: 3 * 86_400,
    });
    expect(await balanceOf(userId)).toBe(40 + other.credits);
    // Two days later the pack's 40 unreserved credits expired.
    expect(await later.credits.balance(userId)).toBe(other.credits);
    // The expiring pack is refunded in full.
    expect(await applyLater(purchaseEvents(mock, expired).refunded(1000))).toBe("processed");
    const afterRefund = await later.credits.balance(userId);
    // The job is cancelled: the hold released (its credits go back to the expired grant and expire).
    await later.credits.release(hold.id);
    // The user never used a credit of either pack: the other pack must be whole.
    // (afterRefund is printed for the report; only the final balance is asserted.)
    expect({ afterRefund, final: await later.credits.balance(userId) }).toMatchObject({
      final: other.credits,
    });
  });

  it("F3: same final refunds, different credits: 500+500 refunded then one 500 fails vs only 500 refunded", async () => {
    const userId = await insertUser("r10-refund-then-fail");
    const expired = await buyExpiring(userId);
    const other = await startPurchase(server, "standard", userId);
    expect((await deliver(server.url, purchaseEvents(mock, other).completed())).status).toBe(200);
    await server.services.credits.spend({
      scope: { kind: "user", id: userId },
      userId,
      amount: 30,
      idempotencyKey: randomUUID(),
    });
    // Two days later: 30 used, 70 expired.
    expect(await later.credits.balance(userId)).toBe(other.credits);
    const refundInput = (reason: string) => ({
      actorId: admin.id,
      paymentId: expired.paymentId,
      amountMinor: 500,
      reason,
      idempotencyKey: randomUUID(),
    });
    const first = await later.refunds.refund(refundInput("first half"));
    expect(first.status).toBe("succeeded");
    // Half the money: a 50-credit share, covered by the 70 expired (the commit's rule).
    expect(await later.credits.balance(userId)).toBe(other.credits);
    const second = await later.refunds.refund(refundInput("second half"));
    expect(second.status).toBe("succeeded");
    // All the money: 30 (the used ones) taken from the other pack.
    expect(await later.credits.balance(userId)).toBe(other.credits - 30);
    // The second refund fails at the bank: the facts are now those of the first refund alone.
    const failed = mock.failRefund(String(second.providerRefundId));
    expect(await applyLater(stripeEvent("refund.failed", failed))).toBe("processed");
    const [payment] = (await paymentsOf(userId)).filter((p) => p.id === expired.paymentId);
    expect(payment?.amountRefundedMinor).toBe(500);
    // With only the first refund the user kept the other pack whole; the same facts should leave
    // the same balance (state.ts: events in any order end in the same state).
    expect({ balance: await later.credits.balance(userId), creditsRefunded: payment?.creditsRefunded }).toEqual({
      balance: other.credits,
      creditsRefunded: 0,
    });
  });
  it("F4: a dispute took the pack live; a refund's report arrives after the expiry: the dispute's give-back expires at once and the refund takes the other pack", async () => {
    const userId = await insertUser("r10-dispute-then-refund");
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
