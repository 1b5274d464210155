// After a refund's failure was applied (its credits given back by a refund_reversal), Stripe's
// refund list may still show that refund as pending for a while (lists are eventually
// consistent). Whatever reads the list next (a charge.refunded, our own next refund's answer,
// reconciliation's "more refunded at the provider" heal) must not count the failed refund again:
// the credits are clawed back once and given back once.
import { describe, expect, it } from "vitest";
import {
  balanceOf,
  chargeRefundedEvent,
  deliver,
  failOnLoggedError,
  ledgerOf,
  type Purchase,
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

const share = (purchase: Purchase, minor: number) => Math.floor((purchase.credits * minor) / purchase.amountMinor);

// A pending refund of `amount` that then fails; its failure applied while the list still shows
// the refund pending, and the list left that way.
async function failedWithStaleList(purchase: Purchase, amount: number): Promise<void> {
  mock.refundsStart("pending");
  const reply = await refund(server, admin, purchase.paymentId, { amount });
  mock.refundsStart("succeeded");
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  const refundId = String(reply.body.providerRefundId);
  const failed = mock.failRefund(refundId);
  mock.setRefundStatus(refundId, "pending");
  expect((await deliver(server.url, stripeEvent("refund.failed", failed))).status).toBe(200);
  expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
  expect(await paymentRow(purchase.paymentId)).toMatchObject({ status: "paid", amountRefundedMinor: 0 });
}

async function expectLedger(purchase: Purchase, rows: { kind: string; amount: number }[]): Promise<void> {
  const ledger = (await ledgerOf(purchase.paymentId)).map(({ kind, amount }) => ({ kind, amount }));
  expect(ledger).toEqual([{ kind: "purchase", amount: purchase.credits }, ...rows]);
  expect((await server.services.credits.checkInvariants()).violations).toEqual([]);
}

describe("a failed refund that Stripe's list still shows pending", () => {
  it("is not clawed back again by a late charge.refunded", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    await failedWithStaleList(purchase, purchase.amountMinor);
    const late = chargeRefundedEvent({
      id: purchase.chargeId,
      amount: purchase.amountMinor,
      amount_refunded: purchase.amountMinor,
      payment_intent: purchase.paymentIntent,
    });
    expect((await deliver(server.url, late)).status).toBe(200);

    expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ status: "paid", amountRefundedMinor: 0 });
    await expectLedger(purchase, [
      { kind: "refund_clawback", amount: -share(purchase, purchase.amountMinor) },
      { kind: "refund_reversal", amount: share(purchase, purchase.amountMinor) },
    ]);
  });

  it("is not counted in our next refund's answer", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    await failedWithStaleList(purchase, 500);
    const next = await refund(server, admin, purchase.paymentId, { amount: 300 });
    expect(next.body).toMatchObject({ status: "succeeded", amount: 300 });

    expect(await paymentRow(purchase.paymentId)).toMatchObject({
      status: "partially_refunded",
      amountRefundedMinor: 300,
      creditsRefunded: share(purchase, 300),
    });
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits - share(purchase, 300));
    await expectLedger(purchase, [
      { kind: "refund_clawback", amount: -share(purchase, 500) },
      { kind: "refund_reversal", amount: share(purchase, 500) },
      { kind: "refund_clawback", amount: -share(purchase, 300) },
    ]);
  });

  it("is not counted when reconciliation heals a refund whose charge.refunded was lost", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    await failedWithStaleList(purchase, 500);
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
    expect(await paymentRow(purchase.paymentId)).toMatchObject({
      amountRefundedMinor: 300,
      creditsRefunded: share(purchase, 300),
    });
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits - share(purchase, 300));
    await expectLedger(purchase, [
      { kind: "refund_clawback", amount: -share(purchase, 500) },
      { kind: "refund_reversal", amount: share(purchase, 500) },
      { kind: "refund_clawback", amount: -share(purchase, 300) },
    ]);
  });
});
