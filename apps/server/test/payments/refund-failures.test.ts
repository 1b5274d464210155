// A refund that fails after its credits were clawed back (a pending refund the bank sent back):
// the credits come back once (a refund_reversal row keyed by the provider's refund id), the
// payment's refunded amount and status follow Stripe's refunds as they now stand, and neither a
// redelivery, the same failure reported by another event type, nor a late report of the refund
// as succeeded (or a stale charge.refunded counting it) claws back again (ADR 016).
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  balanceOf,
  chargeRefundedEvent,
  deliver,
  failOnLoggedError,
  inboxRow,
  ledgerOf,
  type Purchase,
  paymentRow,
  randomStripeId,
  STRIPE_TEST_API_BASE,
  startStripeMock,
  startTestServer,
  stripeEnv,
  stripeEvent,
  stripeFixture,
} from "./helpers.ts";
import { createAdmin, paidPurchase, refund, refundAudit, refundsOf } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
const admin = await createAdmin(server);
failOnLoggedError();

const spend = (userId: string, amount: number) =>
  server.services.credits.spend({
    userId,
    amount,
    idempotencyKey: randomUUID(),
    scope: { kind: "user", id: userId },
    reason: "refund failure test",
  });

async function pendingRefund(paymentId: string, amount?: number) {
  mock.refundsStart("pending");
  const reply = await refund(server, admin, paymentId, amount === undefined ? {} : { amount });
  mock.refundsStart("succeeded");
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return String(reply.body.providerRefundId);
}

describe("a refund that fails after the credits were clawed back", () => {
  it("gives the credits back once, sets the payment back to paid, and marks our request failed", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    const refundId = await pendingRefund(purchase.paymentId);
    expect(await balanceOf(purchase.userId)).toBe(0);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ status: "refunded" });

    const failed = mock.failRefund(refundId);
    const event = stripeEvent("refund.failed", failed);
    expect((await deliver(server.url, event)).status).toBe(200);
    const ledger = [
      { kind: "purchase", amount: purchase.credits, balanceAfter: purchase.credits },
      { kind: "refund_clawback", amount: -purchase.credits, balanceAfter: 0 },
      { kind: "refund_reversal", amount: purchase.credits, balanceAfter: purchase.credits },
    ];
    expect(await ledgerOf(purchase.paymentId)).toEqual(ledger);
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({
      status: "paid",
      amountRefundedMinor: 0,
      creditsRefunded: 0,
    });
    const [request] = await refundsOf(purchase.paymentId);
    expect(request).toMatchObject({ status: "failed", providerRefundId: refundId });
    expect(request?.failureReason).toMatch(/failed: expired_or_canceled_card/);
    expect(await refundAudit(purchase.paymentId)).toEqual(["refund_failed", "refund_requested", "refund_succeeded"]);

    // The same failure again, and as Stripe's other two event types for it: nothing more.
    expect((await deliver(server.url, event)).body).toMatchObject({ outcome: "duplicate" });
    for (const type of ["charge.refund.updated", "refund.updated"]) {
      expect((await deliver(server.url, stripeEvent(type, failed))).status).toBe(200);
    }
    // Late reports from before the failure: the refund as succeeded, the charge counting it.
    const stale = stripeEvent("refund.updated", { ...failed, status: "succeeded", failure_reason: null });
    expect((await deliver(server.url, stale)).body).toMatchObject({ outcome: "ignored" });
    const staleCharge = chargeRefundedEvent({
      id: purchase.chargeId,
      amount: purchase.amountMinor,
      amount_refunded: purchase.amountMinor,
      payment_intent: purchase.paymentIntent,
    });
    expect((await deliver(server.url, staleCharge)).status).toBe(200);
    expect(await ledgerOf(purchase.paymentId)).toEqual(ledger);
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ status: "paid", amountRefundedMinor: 0 });

    // The money was never refunded: it can be refunded again.
    const again = await refund(server, admin, purchase.paymentId, {});
    expect(again.body).toMatchObject({ status: "succeeded", amount: purchase.amountMinor });
    expect(await balanceOf(purchase.userId)).toBe(0);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({
      status: "refunded",
      creditsRefunded: purchase.credits,
    });
  });

  it("of two refunds, only the canceled one's share comes back, and a stale charge.refunded counting it changes nothing", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    await pendingRefund(purchase.paymentId, 500);
    const second = await pendingRefund(purchase.paymentId, 300);
    const share = (minor: number) => Math.floor((purchase.credits * minor) / purchase.amountMinor);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ creditsRefunded: share(800) });

    const canceled = mock.failRefund(second, "canceled");
    expect((await deliver(server.url, stripeEvent("charge.refund.updated", canceled))).status).toBe(200);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({
      status: "partially_refunded",
      amountRefundedMinor: 500,
      creditsRefunded: share(500),
    });
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits - share(500));
    const reversals = (await ledgerOf(purchase.paymentId)).filter((row) => row.kind === "refund_reversal");
    expect(reversals).toEqual([expect.objectContaining({ amount: share(800) - share(500) })]);
    // Stripe's charge.refunded of the second refund, delivered only now (it counts 800).
    const late = chargeRefundedEvent({
      id: purchase.chargeId,
      amount: purchase.amountMinor,
      amount_refunded: 800,
      payment_intent: purchase.paymentIntent,
    });
    expect((await deliver(server.url, late)).status).toBe(200);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({
      amountRefundedMinor: 500,
      creditsRefunded: share(500),
    });
  });

  it("gives back only what the clawback took when the user had spent the credits", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    await spend(purchase.userId, purchase.credits - 30);
    const refundId = await pendingRefund(purchase.paymentId);
    expect(await balanceOf(purchase.userId)).toBe(0);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ creditsRefunded: 30 });

    expect((await deliver(server.url, stripeEvent("refund.failed", mock.failRefund(refundId)))).status).toBe(200);
    expect(await balanceOf(purchase.userId)).toBe(30);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ status: "paid", creditsRefunded: 0 });
  });

  it("gives the credits back once when Stripe's refund list still shows the failed refund pending", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    const refundId = await pendingRefund(purchase.paymentId);
    const failed = mock.failRefund(refundId);
    // Read-after-event lag: the list still shows the refund as it was before it failed.
    mock.setRefundStatus(refundId, "pending");
    expect((await deliver(server.url, stripeEvent("refund.failed", failed))).status).toBe(200);
    const reversals = async () => (await ledgerOf(purchase.paymentId)).filter((row) => row.kind === "refund_reversal");
    expect(await reversals()).toEqual([expect.objectContaining({ amount: purchase.credits })]);
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ status: "paid", amountRefundedMinor: 0 });

    // Redelivered, also once the list has caught up: nothing more.
    expect((await deliver(server.url, stripeEvent("charge.refund.updated", failed))).status).toBe(200);
    mock.setRefundStatus(refundId, "failed");
    expect((await deliver(server.url, stripeEvent("refund.updated", failed))).status).toBe(200);
    expect(await reversals()).toHaveLength(1);
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
  });

  it("a failure for a payment we do not know yet answers 503 and changes nothing", async () => {
    const unknown = stripeEvent(
      "refund.failed",
      stripeFixture("refund", {
        id: randomStripeId("re"),
        status: "failed",
        payment_intent: randomStripeId("pi"),
        charge: randomStripeId("ch"),
      }),
    );
    const reply = await deliver(server.url, unknown);
    expect(reply.status).toBe(503);
  });
});

// Review item 3: a refund event that needs Stripe's refund list (a failure, or a charge report for a
// payment with a failed refund) while Stripe cannot be read is answered 503 UNAVAILABLE with
// Retry-After, and nothing moves until Stripe's redelivery finds Stripe readable again.
describe("a refund event while Stripe cannot be read", () => {
  const moneyOf = async (purchase: Purchase) => ({
    balance: await balanceOf(purchase.userId),
    ledger: await ledgerOf(purchase.paymentId),
    payment: await paymentRow(purchase.paymentId),
    requests: await refundsOf(purchase.paymentId),
  });

  async function deliverWhileDown(event: ReturnType<typeof stripeEvent>) {
    mock.failWith("500");
    try {
      return await deliver(server.url, event);
    } finally {
      mock.failWith(null);
    }
  }

  function expectUnavailable(reply: Awaited<ReturnType<typeof deliver>>) {
    expect(reply.status).toBe(503);
    expect(reply.headers.get("retry-after")).toBe("60");
    expect(reply.body).toMatchObject({ error: { code: "UNAVAILABLE" } });
  }

  it("a refund's failure: 503, the credits not given back until the redelivery, then once", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    const event = stripeEvent("refund.failed", mock.failRefund(await pendingRefund(purchase.paymentId)));
    const before = await moneyOf(purchase);
    expect(before.balance).toBe(0);

    expectUnavailable(await deliverWhileDown(event));
    expect(await moneyOf(purchase)).toEqual(before);
    expect(await inboxRow(String(event.id))).toBeNull();

    expect((await deliver(server.url, event)).status).toBe(200);
    expect((await deliver(server.url, event)).body).toMatchObject({ outcome: "duplicate" });
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
    expect((await ledgerOf(purchase.paymentId)).map((row) => row.kind)).toEqual([
      "purchase",
      "refund_clawback",
      "refund_reversal",
    ]);
  });

  it("charge.refunded of a payment with a failed refund: 503, nothing clawed back until the redelivery", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    const failed = mock.failRefund(await pendingRefund(purchase.paymentId, 500));
    expect((await deliver(server.url, stripeEvent("refund.failed", failed))).status).toBe(200);
    // A refund of 300 made in Stripe's dashboard: only its charge.refunded tells us.
    const made = await fetch(`${STRIPE_TEST_API_BASE}/v1/refunds`, {
      method: "POST",
      headers: { authorization: "Bearer sk_test_dashboard", "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ payment_intent: purchase.paymentIntent, amount: "300" }),
    });
    expect(made.status).toBe(200);
    const event = chargeRefundedEvent({
      id: purchase.chargeId,
      amount: purchase.amountMinor,
      amount_refunded: 300,
      payment_intent: purchase.paymentIntent,
    });
    const before = await moneyOf(purchase);
    expect(before.balance).toBe(purchase.credits);

    expectUnavailable(await deliverWhileDown(event));
    expect(await moneyOf(purchase)).toEqual(before);
    expect(await inboxRow(String(event.id))).toBeNull();

    expect((await deliver(server.url, event)).status).toBe(200);
    const share = Math.floor((purchase.credits * 300) / purchase.amountMinor);
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits - share);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ amountRefundedMinor: 300, creditsRefunded: share });
  });
});
