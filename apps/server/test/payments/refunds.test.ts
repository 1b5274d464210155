// Refunds from the admin API through real HTTP, Stripe's refund API answered by msw: full,
// partial, repeated, more than is left, and racing the charge.refunded webhook in both orders.
// Credits are clawed back exactly once, by whichever of the API's answer and the webhook is first.
import { describe, expect, it } from "vitest";
import {
  balanceOf,
  chargeRefundedEvent,
  deliver,
  failOnLoggedError,
  ledgerOf,
  paymentRow,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";
import { createAdmin, paidPurchase, refund, refundAudit, refundsOf } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
// The default threshold: usd:5000, so a standard pack (2000) is refunded at once.
const server = await startTestServer(stripeEnv);
const admin = await createAdmin(server);
failOnLoggedError();

const refundRequests = (paymentIntent: string) =>
  mock.requestsTo("POST", "/v1/refunds").filter((r) => r.params.payment_intent === paymentIntent);

describe("refunds through Stripe's refund API", () => {
  it("a full refund: Stripe is asked once with the payment intent, amount, metadata and a derived key; credits clawed back", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    const reply = await refund(server, admin, purchase.paymentId, { reason: "  duplicate purchase  " });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(reply.body).toMatchObject({
      paymentId: purchase.paymentId,
      userId: purchase.userId,
      amount: purchase.amountMinor,
      currency: "usd",
      reason: "duplicate purchase",
      status: "succeeded",
      requestedBy: admin.id,
      decidedBy: null,
      providerRefundId: expect.stringMatching(/^re_/),
      failureReason: null,
    });
    const [sent] = refundRequests(purchase.paymentIntent);
    expect(refundRequests(purchase.paymentIntent)).toHaveLength(1);
    expect(sent?.params).toMatchObject({
      payment_intent: purchase.paymentIntent,
      amount: String(purchase.amountMinor),
      "metadata[paymentId]": purchase.paymentId,
      "metadata[refundId]": reply.body.id,
      "expand[0]": "charge",
    });
    expect(sent?.idempotencyKey).toBe(`refund:${reply.body.id}`);
    expect(await balanceOf(purchase.userId)).toBe(0);
    expect(await ledgerOf(purchase.paymentId)).toEqual([
      { kind: "purchase", amount: purchase.credits, balanceAfter: purchase.credits },
      { kind: "refund_clawback", amount: -purchase.credits, balanceAfter: 0 },
    ]);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({
      status: "refunded",
      amountRefundedMinor: purchase.amountMinor,
      creditsRefunded: purchase.credits,
    });
    expect(await refundAudit(purchase.paymentId)).toEqual(["refund_requested", "refund_succeeded"]);

    // The charge.refunded webhook that follows finds the refund applied: nothing more.
    const late = await deliver(server.url, refundedEvent(purchase.paymentIntent));
    expect(late.status).toBe(200);
    expect(await ledgerOf(purchase.paymentId)).toHaveLength(2);
    expect(await balanceOf(purchase.userId)).toBe(0);
  });

  it("partial refunds add up, each clawing back its share; beyond what is left is a 409 that changes nothing", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    const first = await refund(server, admin, purchase.paymentId, { amount: 500 });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ amount: 500, status: "succeeded" });
    expect(await paymentRow(purchase.paymentId)).toMatchObject({
      status: "partially_refunded",
      creditsRefunded: (purchase.credits * 500) / purchase.amountMinor,
    });

    const tooMuch = await refund(server, admin, purchase.paymentId, { amount: purchase.amountMinor - 500 + 1 });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body.error).toMatchObject({
      code: "INVALID_STATE",
      message: expect.stringMatching(/more than is left/),
    });
    expect(refundRequests(purchase.paymentIntent)).toHaveLength(1);
    expect(await refundsOf(purchase.paymentId)).toHaveLength(1);

    // Without an amount: the rest.
    const rest = await refund(server, admin, purchase.paymentId, {});
    expect(rest.body).toMatchObject({ amount: purchase.amountMinor - 500, status: "succeeded" });
    expect(await paymentRow(purchase.paymentId)).toMatchObject({
      status: "refunded",
      creditsRefunded: purchase.credits,
    });
    expect(await balanceOf(purchase.userId)).toBe(0);

    const nothingLeft = await refund(server, admin, purchase.paymentId, {});
    expect(nothingLeft.status).toBe(409);
    expect(nothingLeft.body.error.message).toMatch(/nothing is left/);
    expect(refundRequests(purchase.paymentIntent)).toHaveLength(2);
  });

  it("the same key again answers the same refund without asking Stripe again; with other parameters it is a 409", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    const body = { amount: 300, idempotencyKey: "refund-retry-1" };
    const first = await refund(server, admin, purchase.paymentId, body);
    const again = await refund(server, admin, purchase.paymentId, body);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(refundRequests(purchase.paymentIntent)).toHaveLength(1);
    const other = await refund(server, admin, purchase.paymentId, { ...body, amount: 301 });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe("IDEMPOTENCY_CONFLICT");
    // Another admin's same key is their own request: keys are scoped to the admin.
    const second = await createAdmin(server);
    const theirs = await refund(server, second, purchase.paymentId, body);
    expect(theirs.status).toBe(200);
    expect(theirs.body.id).not.toBe(first.body.id);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ amountRefundedMinor: 600 });
  });

  it("Stripe refusing the refund records it failed, with Stripe's reason, and claws back nothing", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    // Refunded in Stripe's dashboard meanwhile; its webhook has not arrived.
    mock.addCharge({ ...mock.chargeOf(purchase.paymentIntent), amount_refunded: purchase.amountMinor });
    const reply = await refund(server, admin, purchase.paymentId, { amount: 100 });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      status: "failed",
      failureReason: expect.stringMatching(/already been refunded/),
    });
    expect(await ledgerOf(purchase.paymentId)).toHaveLength(1);
    expect(await refundAudit(purchase.paymentId)).toEqual(["refund_failed", "refund_requested"]);
  });

  it.each([
    ["the webhook before the API's answer", true],
    ["the API's answer before the webhook", false],
  ])("racing charge.refunded: %s claws back exactly once", async (_, webhookFirst) => {
    const purchase = await paidPurchase(server, mock, "standard");
    const webhook = () => deliver(server.url, refundedEvent(purchase.paymentIntent));
    if (webhookFirst) {
      mock.beforeRefundAnswer(async () => {
        expect((await webhook()).status).toBe(200);
        // The webhook already clawed back, before our request heard from Stripe.
        expect(await balanceOf(purchase.userId)).toBe(purchase.credits - 125);
      });
    }
    try {
      const reply = await refund(server, admin, purchase.paymentId, { amount: 500 });
      expect(reply.body).toMatchObject({ status: "succeeded" });
    } finally {
      mock.beforeRefundAnswer(null);
    }
    if (!webhookFirst) expect((await webhook()).status).toBe(200);
    expect(await ledgerOf(purchase.paymentId)).toEqual([
      { kind: "purchase", amount: purchase.credits, balanceAfter: purchase.credits },
      { kind: "refund_clawback", amount: -125, balanceAfter: purchase.credits - 125 },
    ]);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({
      status: "partially_refunded",
      amountRefundedMinor: 500,
      creditsRefunded: 125,
    });
  });

  it("a refund racing its own webhook concurrently still claws back once", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    let delivered: Promise<unknown> = Promise.resolve();
    mock.beforeRefundAnswer(async () => {
      // Not awaited: the webhook and the answer are applied at the same time.
      delivered = webhookAfterRefund(purchase.paymentIntent);
    });
    try {
      expect((await refund(server, admin, purchase.paymentId, {})).body.status).toBe("succeeded");
      await delivered;
    } finally {
      mock.beforeRefundAnswer(null);
    }
    const clawbacks = (await ledgerOf(purchase.paymentId)).filter((row) => row.kind === "refund_clawback");
    expect(clawbacks.reduce((sum, row) => sum + row.amount, 0)).toBe(-purchase.credits);
    expect(await balanceOf(purchase.userId)).toBe(0);
  });
});

// charge.refunded with the charge as the mock now holds it (its cumulative amount_refunded).
function refundedEvent(paymentIntent: string) {
  const current = mock.chargeOf(paymentIntent);
  if (!current) throw new Error(`no charge for ${paymentIntent}`);
  return chargeRefundedEvent({
    id: String(current.id),
    amount: Number(current.amount),
    amount_refunded: Number(current.amount_refunded),
    payment_intent: paymentIntent,
  });
}

async function webhookAfterRefund(paymentIntent: string) {
  const reply = await deliver(server.url, refundedEvent(paymentIntent));
  expect(reply.status).toBe(200);
}
