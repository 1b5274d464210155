// A refund of ours the payment's refunded amount does not show yet still counts when a dashboard
// refund is in that amount (review 10 F5). The refunded amount names no refunds: a dashboard
// refund (in it, in no row of ours) used to make "our succeeded rows less the refunded amount"
// zero while our own refund, its refund list unreadable after the answer, was in it nowhere, so
// one admin refunded past the approval threshold. Each row now records whether the refunded amount
// counts it (ADR 016).
import { describe, expect, it } from "vitest";
import {
  deliver,
  failOnLoggedError,
  paymentRow,
  purchaseEvents,
  STRIPE_TEST_API_BASE,
  startStripeMock,
  startTestServer,
  stripeEnv,
  stripeEvent,
} from "./helpers.ts";
import { createAdmin, decideRefund, paidPurchase, refund, refundsOf } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
const admin = await createAdmin(server);
const second = await createAdmin(server);
failOnLoggedError();

// What the admin's view says is left to refund (the refund form's bound).
const refundable = async (paymentId: string) => {
  const [view] = await server.services.refunds.refundsOfPayments([await paymentRow(paymentId)]);
  return view?.refundableMinor;
};

// A refund made in Stripe's dashboard: no metadata, no row of ours.
async function dashboardRefund(paymentIntent: string, amount: number) {
  const made = await fetch(`${STRIPE_TEST_API_BASE}/v1/refunds`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${stripeEnv.STRIPE_SECRET_KEY}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ payment_intent: paymentIntent, amount: String(amount) }).toString(),
  });
  expect(made.status).toBe(200);
}

describe("a dashboard refund in the refunded amount, our own refund not in it yet", () => {
  it("counts both toward what is left and toward the approval threshold (usd:5000)", async () => {
    const purchase = await paidPurchase(server, mock, "pro");
    expect(purchase.amountMinor).toBe(7000);
    const events = purchaseEvents(mock, purchase);

    // A first refund of 1000 that the bank later sends back: the payment has a failed refund.
    const first = await refund(server, admin, purchase.paymentId, { amount: 1000 });
    expect(first.body).toMatchObject({ status: "succeeded" });
    const failed = mock.failRefund(String(first.body.providerRefundId));
    expect((await deliver(server.url, stripeEvent("refund.failed", failed))).status).toBe(200);

    // 2000 refunded at the dashboard, reported: the refunded amount counts it.
    await dashboardRefund(purchase.paymentIntent, 2000);
    expect((await deliver(server.url, events.refunded(2000))).status).toBe(200);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ amountRefundedMinor: 2000 });
    expect(await refundable(purchase.paymentId)).toBe(5000);

    // 2000 of ours (2000 + 2000 <= 5000: no approval); the provider's refund list fails after.
    mock.beforeRefundAnswer(async () => mock.failWith("500"));
    const ours = await refund(server, admin, purchase.paymentId, { amount: 2000 });
    mock.beforeRefundAnswer(null);
    mock.failWith(null);
    expect(ours.body).toMatchObject({ status: "succeeded", amount: 2000 });
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ amountRefundedMinor: 2000 });
    // 2000 at the dashboard and 2000 of ours: 3000 left (5000 before the fix).
    expect(await refundable(purchase.paymentId)).toBe(3000);

    // More than is left is refused; 2000 by the same admin makes 6000 > 5000: a second admin's
    // (before the fix: 2000 + 2000, sent at once).
    expect((await refund(server, admin, purchase.paymentId, { amount: 3001 })).status).toBe(409);
    const last = await refund(server, admin, purchase.paymentId, { amount: 2000 });
    expect(last.body).toMatchObject({ status: "pending" });

    // Our refund's report arrives: the refunded amount counts it now, and it is counted once.
    expect((await deliver(server.url, events.refunded(4000))).status).toBe(200);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ amountRefundedMinor: 4000 });
    expect(await refundable(purchase.paymentId)).toBe(1000);
    const rejected = await decideRefund(server, second, String(last.body.id), "reject");
    expect(rejected.body).toMatchObject({ status: "rejected" });
    expect(await refundable(purchase.paymentId)).toBe(3000);
    const statuses = (await refundsOf(purchase.paymentId)).map((r) => `${r.amountMinor} ${r.status}`);
    expect(statuses.sort()).toEqual(["1000 failed", "2000 rejected", "2000 succeeded"]);
  });
});
