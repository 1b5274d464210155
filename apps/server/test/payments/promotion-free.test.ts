// A 100%-off promotion code (STRIPE_ALLOW_PROMOTION_CODES), Stripe's API answered by msw. Stripe
// completes such a session without taking a payment (a "no-cost order"): the session ends
// complete with payment_status "no_payment_required", amount_total 0, its discount equal to the
// price, and no PaymentIntent; no charge exists, so no receipt, no refund and no dispute, and the
// only event is checkout.session.completed. The pack's credits are granted exactly once whichever
// of the webhook, the success page and reconciliation gets there first; the payment is paid (not
// refunded: 0 of 0), a refund of it is refused, and reconciliation finds nothing wrong with it.
import { randomUUID } from "node:crypto";
import type { ReconciliationFinding } from "@credits/core";
import { describe, expect, it } from "vitest";
import {
  balanceOf,
  call,
  deliver,
  failOnLoggedError,
  ledgerOf,
  type Purchase,
  paymentRow,
  type StripeJson,
  sessionEvent,
  signUp,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
  transitionsOf,
} from "./helpers.ts";
import { createAdmin, refund, refundsOf } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer({
  ...stripeEnv,
  STRIPE_ALLOW_PROMOTION_CODES: "true",
  ADMIN_REFUND_APPROVAL_MINOR: "usd:100000",
});
const admin = await createAdmin(server);
failOnLoggedError();

// The session as Stripe reports a no-cost order: complete, nothing to pay, no PaymentIntent.
const freeSession = (purchase: Purchase): StripeJson => ({
  status: "complete",
  payment_status: "no_payment_required",
  payment_intent: null,
  amount_subtotal: purchase.amountMinor,
  amount_total: 0,
  discounts: [{ coupon: "FREE100", promotion_code: "promo_1FreeCreditsTest" }],
  total_details: { amount_discount: purchase.amountMinor, amount_shipping: 0, amount_tax: 0 },
  url: null,
});

const completed = (purchase: Purchase) =>
  sessionEvent(mock, purchase.sessionId, "checkout.session.completed", {
    paymentIntent: null,
    overrides: freeSession(purchase),
  });

async function buy(slug: "starter" | "standard" = "standard") {
  const user = await signUp(server.url);
  return { user, purchase: await startPurchase(server, slug, user.id) };
}

const confirm = (cookie: string, sessionId: string) =>
  call(server.url, "POST", "/api/v1/checkout/confirm", { cookie, body: { sessionId } });

async function reconcile(): Promise<ReconciliationFinding[]> {
  const run = await server.services.reconciliation.run({ trigger: "manual" });
  expect(run?.status).toBe("succeeded");
  return (await server.services.reconciliation.getRun(run?.id ?? "", { limit: 100 })).findings;
}

const findingsOf = (findings: ReconciliationFinding[], purchase: Purchase) =>
  findings.filter((f) => f.paymentId === purchase.paymentId).map((f) => ({ kind: f.kind, healed: f.healed }));

async function expectCreditedOnce(purchase: Purchase) {
  expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
  expect(await ledgerOf(purchase.paymentId)).toHaveLength(1);
  expect(await paymentRow(purchase.paymentId)).toMatchObject({
    status: "paid",
    creditedAt: expect.any(Date),
    reviewReason: null,
    amountMinor: purchase.amountMinor,
    amountPaidMinor: 0,
    amountSubtotalMinor: purchase.amountMinor,
    amountDiscountMinor: purchase.amountMinor,
    amountRefundedMinor: 0,
    creditsRefunded: 0,
    providerPaymentIntentId: null,
    receiptUrl: null,
  });
}

describe("a 100%-off promotion code (Stripe's no-cost order)", () => {
  it("checkout.session.completed credits the pack once; a second delivery and the success page credit nothing more", async () => {
    const { user, purchase } = await buy();
    const first = await deliver(server.url, completed(purchase));
    expect(first.body).toEqual({ received: true, outcome: "processed" });
    await expectCreditedOnce(purchase);
    expect(await transitionsOf(purchase.paymentId)).toEqual([
      { from: "created", to: "paid", source: expect.stringMatching(/^evt_/) },
    ]);

    expect((await deliver(server.url, completed(purchase))).status).toBe(200);
    mock.updateSession(purchase.sessionId, freeSession(purchase));
    const page = await confirm(user.cookie, purchase.sessionId);
    expect(page.status).toBe(200);
    expect(page.body.payment).toMatchObject({ status: "paid", credited: true, receiptUrl: null });
    await expectCreditedOnce(purchase);
  });

  it("the success page credits before the webhook, which then credits nothing more", async () => {
    const { user, purchase } = await buy("starter");
    mock.updateSession(purchase.sessionId, freeSession(purchase));
    const page = await confirm(user.cookie, purchase.sessionId);
    expect(page.status).toBe(200);
    expect(page.body).toEqual({
      payment: expect.objectContaining({ status: "paid", credited: true, underReview: false, receiptUrl: null }),
      balance: purchase.credits,
    });
    expect((await deliver(server.url, completed(purchase))).body.outcome).toBe("processed");
    await expectCreditedOnce(purchase);
  });

  it("a no-payment-required session whose figures do not add up is flagged, not credited", async () => {
    const { purchase } = await buy();
    const event = sessionEvent(mock, purchase.sessionId, "checkout.session.completed", {
      paymentIntent: null,
      overrides: { ...freeSession(purchase), total_details: { amount_discount: 100, amount_tax: 0 } },
    });
    expect((await deliver(server.url, event)).status).toBe(200);
    const row = await paymentRow(purchase.paymentId);
    expect(row.creditedAt).toBeNull();
    expect(row.reviewReason).toMatch(/^amount mismatch/);
    expect(await balanceOf(purchase.userId)).toBe(0);
  });

  it("no receipt to fetch, nothing to refund (refused with a clear 409, nothing sent or recorded), shown as paid 0 with the discount", async () => {
    const { user, purchase } = await buy();
    await deliver(server.url, completed(purchase));
    const intentCalls = mock.requests.filter((r) => r.path.startsWith("/v1/payment_intents")).length;
    const read = await call(server.url, "GET", `/api/v1/payments/${purchase.paymentId}`, { cookie: user.cookie });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({
      status: "paid",
      credited: true,
      receiptUrl: null,
      amountMinor: purchase.amountMinor,
      amountPaidMinor: 0,
      amountDiscountMinor: purchase.amountMinor,
    });
    expect(mock.requests.filter((r) => r.path.startsWith("/v1/payment_intents"))).toHaveLength(intentCalls);

    const refundsSent = mock.requestsTo("POST", "/v1/refunds").length;
    const refused = await refund(server, admin, purchase.paymentId, {});
    expect(refused.status).toBe(409);
    expect(refused.body).toEqual({
      error: { code: "INVALID_STATE", message: expect.stringMatching(/nothing was charged/) },
    });
    const partial = await refund(server, admin, purchase.paymentId, { amount: 1, idempotencyKey: randomUUID() });
    expect(partial.status).toBe(409);
    expect(partial.body.error.code).toBe("INVALID_STATE");
    expect(mock.requestsTo("POST", "/v1/refunds")).toHaveLength(refundsSent);
    expect(await refundsOf(purchase.paymentId)).toEqual([]);
    await expectCreditedOnce(purchase);

    const view = await call(server.url, "GET", `/api/v1/admin/users/${purchase.userId}`, { cookie: admin.cookie });
    expect(view.body.payments.find((p: { id: string }) => p.id === purchase.paymentId)).toMatchObject({
      status: "paid",
      amountPaidMinor: 0,
      amountDiscountMinor: purchase.amountMinor,
      refundableMinor: 0,
    });
  });

  it("reconciliation credits a no-cost session the webhook never brought, once, and finds nothing wrong with it after", async () => {
    const { purchase } = await buy();
    const session = mock.sessions.get(purchase.sessionId) ?? {};
    mock.seedCheckoutSessions([{ ...session, ...freeSession(purchase) }]);
    const [run, webhook] = await Promise.all([reconcile(), deliver(server.url, completed(purchase))]);
    expect(webhook.status).toBe(200);
    // Whichever got there first credited it; reconciliation says so only when it did.
    expect(findingsOf(run, purchase)).toEqual(
      (await transitionsOf(purchase.paymentId))[0]?.source.startsWith("evt_")
        ? []
        : [{ kind: "missing_credit", healed: true }],
    );
    await expectCreditedOnce(purchase);
    expect(findingsOf(await reconcile(), purchase)).toEqual([]);
    await expectCreditedOnce(purchase);
  });
});
