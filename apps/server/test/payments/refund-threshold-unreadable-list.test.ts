// A refund the provider made while its refund list could not be read still counts (review 9). Once
// a payment has a failed refund, a refund's answer reaches the payment's refunded amount only
// through the provider's refund list (ADR 016); when that list fails right after the answer, the
// refund row is `succeeded` but the refunded amount does not move until the provider's report. The
// money used to count nowhere in between: what is left to refund and the approval threshold's
// "refunded, waiting and this one" both forgot it, so one admin refunded past the threshold.
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
} from "./helpers.ts";
import { createAdmin, paidPurchase, refund, refundsOf } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
const admin = await createAdmin(server);
failOnLoggedError();

// What the admin's view says is left to refund (the refund form's bound).
const refundable = async (paymentId: string) => {
  const [view] = await server.services.refunds.refundsOfPayments([await paymentRow(paymentId)]);
  return view?.refundableMinor;
};

describe("a refund answered while the provider's refund list cannot be read", () => {
  it("counts toward what is left and toward the approval threshold (usd:5000)", async () => {
    const purchase = await paidPurchase(server, mock, "pro");
    expect(purchase.amountMinor).toBe(7000);

    // A first refund of 1000 that the bank later sends back: the payment has a failed refund.
    const first = await refund(server, admin, purchase.paymentId, { amount: 1000 });
    expect(first.body).toMatchObject({ status: "succeeded" });
    const failed = mock.failRefund(String(first.body.providerRefundId));
    expect((await deliver(server.url, stripeEvent("refund.failed", failed))).status).toBe(200);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ amountRefundedMinor: 0 });

    // 4000 (under the threshold): the provider makes it and answers; its refund list fails after.
    mock.beforeRefundAnswer(async () => mock.failWith("500"));
    const second = await refund(server, admin, purchase.paymentId, { amount: 4000 });
    mock.beforeRefundAnswer(null);
    mock.failWith(null);
    expect(second.body).toMatchObject({ status: "succeeded", amount: 4000 });
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ amountRefundedMinor: 0 });
    expect(await refundable(purchase.paymentId)).toBe(3000);

    // More than is left is refused; 3000 by the same admin makes 7000 > 5000: a second admin's.
    const tooMuch = await refund(server, admin, purchase.paymentId, { amount: 3001 });
    expect(tooMuch.status).toBe(409);
    const third = await refund(server, admin, purchase.paymentId, { amount: 3000 });
    expect(third.body).toMatchObject({ status: "pending" });
    const statuses = (await refundsOf(purchase.paymentId)).map((r) => `${r.amountMinor} ${r.status}`);
    expect(statuses.sort()).toEqual(["1000 failed", "3000 pending", "4000 succeeded"]);

    // The provider's report arrives: the 4000 is in the refunded amount now, counted once.
    expect((await deliver(server.url, purchaseEvents(mock, purchase).refunded(4000))).status).toBe(200);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ amountRefundedMinor: 4000 });
    expect(await refundable(purchase.paymentId)).toBe(0);
  });
});
