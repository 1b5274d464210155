// Review 8: after one refund of a payment failed, a later refund made at
// Stripe whose charge.refunded never arrived must still be found and clawed back by the daily
// reconciliation (its lost-webhook healing).
import { describe, expect, it } from "vitest";
import {
  balanceOf,
  deliver,
  failOnLoggedError,
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
});
