// Review 10: d6a4a44's inFlightMinor (succeeded rows less the payment's refunded amount) counts
// nothing of our unapplied refund when a refund made at the dashboard is already in the refunded
// amount: the approval threshold's "refunded, waiting and this one" forgets our money again.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  deliver,
  failOnLoggedError,
  paymentRow,
  purchaseEvents,
  startStripeMock,
  startTestServer,
  stripeEnv,
  stripeEvent,
} from "../payments/helpers.ts";
import { createAdmin, paidPurchase, refund } from "../payments/refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
const admin = await createAdmin(server);
failOnLoggedError();

const refundable = async (paymentId: string) => {
  const [view] = await server.services.refunds.refundsOfPayments([await paymentRow(paymentId)]);
  return view?.refundableMinor;
};

describe("review10: a dashboard refund hides our unapplied refund from the threshold (usd:5000)", () => {
  it("one admin refunds 7000 of 7000 (2000 at the dashboard)", async () => {
    const purchase = await paidPurchase(server, mock, "pro");
    expect(purchase.amountMinor).toBe(7000);

    // A first refund that the bank sends back: the payment has a failed refund (list mode, ADR 016).
    const first = await refund(server, admin, purchase.paymentId, { amount: 1000 });
    expect(first.body).toMatchObject({ status: "succeeded" });
    const failed = mock.failRefund(String(first.body.providerRefundId));
    expect((await deliver(server.url, stripeEvent("refund.failed", failed))).status).toBe(200);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ amountRefundedMinor: 0 });

    // 2000 refunded at the Stripe dashboard (no row of ours), its charge.refunded applied.
    await server.services.provider.createRefund({
      paymentIntentId: purchase.paymentIntent,
      amountMinor: 2000,
      metadata: {},
      idempotencyKey: randomUUID(),
    });
    expect((await deliver(server.url, purchaseEvents(mock, purchase).refunded(2000))).status).toBe(200);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ amountRefundedMinor: 2000 });

    // Our 2000 (2000 + 2000 <= 5000: one admin): made, answered, the list unreadable right after.
    mock.beforeRefundAnswer(async () => mock.failWith("500"));
    const second = await refund(server, admin, purchase.paymentId, { amount: 2000 });
    mock.beforeRefundAnswer(null);
    mock.failWith(null);
    expect(second.body).toMatchObject({ status: "succeeded", amount: 2000 });
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ amountRefundedMinor: 2000 });

    // 4000 refunded in truth: 3000 left, and 3000 more by the same admin makes 7000 > 5000.
    const left = await refundable(purchase.paymentId);
    const third = await refund(server, admin, purchase.paymentId, { amount: 3000 });
    expect({ left, third: third.body.status }).toEqual({ left: 3000, third: "pending" });
  });
});
