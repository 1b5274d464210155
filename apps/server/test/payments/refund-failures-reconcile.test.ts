// Review 8: after one refund of a payment failed, a later refund made at
// Stripe whose charge.refunded never arrived must still be found and clawed back by the daily
// reconciliation (its lost-webhook healing).
import { describe, expect, it } from "vitest";
import {
  balanceOf,
  deliver,
  failOnLoggedError,
  ledgerOf,
  paymentRow,
  STRIPE_TEST_API_BASE,
  startStripeMock,
  startTestServer,
  stripeEnv,
  stripeEvent,
} from "./helpers.ts";
import { createAdmin, paidPurchase, refund } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
const admin = await createAdmin(server);
failOnLoggedError();

describe("review8: reconciliation after a failed refund", () => {
  it("a dashboard refund whose charge.refunded was lost is clawed back by reconciliation", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    const share = (minor: number) => Math.floor((purchase.credits * minor) / purchase.amountMinor);
    mock.refundsStart("pending");
    const first = await refund(server, admin, purchase.paymentId, { amount: 500 });
    mock.refundsStart("succeeded");
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const failed = mock.failRefund(String(first.body.providerRefundId));
    expect((await deliver(server.url, stripeEvent("refund.failed", failed))).status).toBe(200);
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits);

    // A refund of 300 made in Stripe's dashboard; its charge.refunded webhook is lost.
    const made = await fetch(`${STRIPE_TEST_API_BASE}/v1/refunds`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${stripeEnv.STRIPE_SECRET_KEY}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ payment_intent: purchase.paymentIntent, amount: "300" }).toString(),
    });
    expect(made.status).toBe(200);
    const charge = mock.chargeOf(purchase.paymentIntent);
    expect(charge?.amount_refunded).toBe(300);
    mock.seedCharges([{ ...(charge as Record<string, unknown>), created: Math.floor(Date.now() / 1000) }]);

    await server.services.reconciliation.run({ trigger: "manual" });
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ amountRefundedMinor: 300 });
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits - share(300));
  });

  it("a refund failure whose events were all lost gives the credits back once, through reconciliation", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    mock.refundsStart("pending");
    const first = await refund(server, admin, purchase.paymentId, {});
    mock.refundsStart("succeeded");
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(await balanceOf(purchase.userId)).toBe(0);
    // The refund fails at Stripe; refund.failed, refund.updated and charge.refund.updated are all lost.
    const failed = mock.failRefund(String(first.body.providerRefundId));
    const charge = mock.chargeOf(purchase.paymentIntent);
    expect(charge?.amount_refunded).toBe(0);
    mock.seedCharges([{ ...(charge as Record<string, unknown>), created: Math.floor(Date.now() / 1000) }]);
    const reversals = async () => (await ledgerOf(purchase.paymentId)).filter((row) => row.kind === "refund_reversal");

    const run = await server.services.reconciliation.run({ trigger: "manual" });
    expect(await reversals()).toEqual([expect.objectContaining({ amount: purchase.credits })]);
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ status: "paid", amountRefundedMinor: 0 });
    const { findings } = await server.services.reconciliation.getRun(String(run?.id), { limit: 100 });
    // (The test's Checkout session is not listed as paid, so an unexpected_credit is found too.)
    const refundFindings = findings.filter((f) => f.paymentId === purchase.paymentId && f.kind.startsWith("refund"));
    expect(refundFindings).toEqual([expect.objectContaining({ kind: "refund_failure_not_reversed", healed: true })]);

    // Another run, then the lost event arriving after all: nothing more.
    await server.services.reconciliation.run({ trigger: "manual" });
    expect((await deliver(server.url, stripeEvent("refund.failed", failed))).status).toBe(200);
    expect(await reversals()).toHaveLength(1);
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
  });
});
