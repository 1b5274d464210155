// Promotion codes and Stripe Tax (STRIPE_ALLOW_PROMOTION_CODES, STRIPE_AUTOMATIC_TAX), Stripe's
// API answered by msw: checkout asks for them; a session paid with a discount or with tax is
// credited the pack's credits and records what it says was paid; refunds are measured against
// that amount; reconciliation compares against the session's own subtotal, discounts and tax, so
// neither is a mismatch while a real one still is.
import type { ReconciliationFinding } from "@credits/core";
import { describe, expect, it } from "vitest";
import {
  balanceOf,
  call,
  charge,
  deliver,
  failOnLoggedError,
  type Purchase,
  paymentRow,
  randomStripeId,
  type StripeJson,
  sessionEvent,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";
import { createAdmin, refund } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer({
  ...stripeEnv,
  STRIPE_ALLOW_PROMOTION_CODES: "true",
  STRIPE_AUTOMATIC_TAX: "true",
  // Every refund here is sent at once.
  ADMIN_REFUND_APPROVAL_MINOR: "usd:100000",
});
const admin = await createAdmin(server);
failOnLoggedError();

// The session as Stripe reports it once paid: the price as subtotal, its discount and tax.
const paidSession = (purchase: Purchase, money: { total: number; discount?: number; tax?: number }): StripeJson => ({
  amount_subtotal: purchase.amountMinor,
  amount_total: money.total,
  total_details: { amount_discount: money.discount ?? 0, amount_shipping: 0, amount_tax: money.tax ?? 0 },
});

// Completed at Stripe with these amounts, delivered as a signed webhook; its charge is refundable.
async function paid(purchase: Purchase, money: { total: number; discount?: number; tax?: number }) {
  const event = sessionEvent(mock, purchase.sessionId, "checkout.session.completed", {
    paymentIntent: purchase.paymentIntent,
    overrides: paidSession(purchase, money),
  });
  expect((await deliver(server.url, event)).status).toBe(200);
  mock.addCharge(charge({ id: purchase.chargeId, amount: money.total, payment_intent: purchase.paymentIntent }));
}

const adminView = async (purchase: Purchase) => {
  const reply = await call(server.url, "GET", `/api/v1/admin/users/${purchase.userId}`, { cookie: admin.cookie });
  expect(reply.status).toBe(200);
  return reply.body.payments.find((p: { id: string }) => p.id === purchase.paymentId);
};

describe("promotion codes and tax", () => {
  it("checkout asks Stripe for promotion codes and automatic tax, the price sent before tax", async () => {
    const purchase = await startPurchase(server, "starter");
    const [sent] = mock
      .requestsTo("POST", "/v1/checkout/sessions")
      .filter((r) => r.params.client_reference_id === purchase.paymentId);
    expect(sent?.params).toMatchObject({
      allow_promotion_codes: "true",
      "automatic_tax[enabled]": "true",
      "line_items[0][price_data][tax_behavior]": "exclusive",
      "line_items[0][price_data][unit_amount]": "500",
    });
  });

  it("a promotion code: the pack's credits, the discounted amount recorded, a full refund gives back what was paid and takes back every credit", async () => {
    const purchase = await startPurchase(server, "standard");
    await paid(purchase, { total: 1_500, discount: 500 });
    expect(await paymentRow(purchase.paymentId)).toMatchObject({
      status: "paid",
      reviewReason: null,
      amountMinor: 2_000,
      amountPaidMinor: 1_500,
      amountSubtotalMinor: 2_000,
      amountDiscountMinor: 500,
      amountTaxMinor: 0,
    });
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
    expect(await adminView(purchase)).toMatchObject({
      amountPaidMinor: 1_500,
      amountDiscountMinor: 500,
      refundableMinor: 1_500,
    });

    // More than was paid is refused before Stripe is asked; all of it is the paid amount.
    expect((await refund(server, admin, purchase.paymentId, { amount: 1_501 })).status).toBe(409);
    const full = await refund(server, admin, purchase.paymentId, {});
    expect(full.status, JSON.stringify(full.body)).toBe(200);
    expect(full.body).toMatchObject({ amount: 1_500, status: "succeeded" });
    const sent = mock
      .requestsTo("POST", "/v1/refunds")
      .filter((r) => r.params.payment_intent === purchase.paymentIntent);
    expect(sent.map((r) => r.params.amount)).toEqual(["1500"]);
    expect(await balanceOf(purchase.userId)).toBe(0);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({
      status: "refunded",
      amountRefundedMinor: 1_500,
      creditsRefunded: purchase.credits,
    });
  });

  it("tax on top: credited, and refunds (the tax included) take credits back in proportion to what was paid", async () => {
    const purchase = await startPurchase(server, "standard");
    await paid(purchase, { total: 2_180, tax: 180 });
    expect(await paymentRow(purchase.paymentId)).toMatchObject({
      amountPaidMinor: 2_180,
      amountTaxMinor: 180,
      reviewReason: null,
    });
    expect(await adminView(purchase)).toMatchObject({ amountPaidMinor: 2_180, refundableMinor: 2_180 });

    expect((await refund(server, admin, purchase.paymentId, { amount: 1_090 })).body.status).toBe("succeeded");
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits / 2);
    expect((await refund(server, admin, purchase.paymentId, {})).body).toMatchObject({
      amount: 1_090,
      status: "succeeded",
    });
    expect(await balanceOf(purchase.userId)).toBe(0);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ status: "refunded", amountRefundedMinor: 2_180 });
  });

  it.each([
    ["a session that sold another amount", { amount_subtotal: 1_900, amount_total: 1_900 }],
    [
      "a discount the total does not show",
      { amount_total: 1_600, total_details: { amount_discount: 500, amount_tax: 0 } },
    ],
    ["tax the total does not show", { amount_total: 2_000, total_details: { amount_discount: 0, amount_tax: 180 } }],
  ])("%s is still an amount mismatch: flagged, not credited", async (_label, overrides) => {
    const purchase = await startPurchase(server, "standard");
    const event = sessionEvent(mock, purchase.sessionId, "checkout.session.completed", {
      paymentIntent: purchase.paymentIntent,
      overrides,
    });
    expect((await deliver(server.url, event)).status).toBe(200);
    const row = await paymentRow(purchase.paymentId);
    expect(row.creditedAt).toBeNull();
    expect(row.reviewReason).toMatch(/^amount mismatch/);
    expect(await balanceOf(purchase.userId)).toBe(0);
  });

  it("reconciliation heals a discounted session and accepts its charge and a taxed one; a real mismatch is still found", async () => {
    const now = Math.floor(Date.now() / 1000);
    const listed = async (money: { total: number; discount?: number; tax?: number }, sold?: number) => {
      const purchase = await startPurchase(server, "standard");
      const session = mock.sessions.get(purchase.sessionId) ?? {};
      mock.seedCheckoutSessions([
        {
          ...session,
          ...paidSession(purchase, money),
          ...(sold === undefined ? {} : { amount_subtotal: sold }),
          status: "complete",
          payment_status: "paid",
          payment_intent: purchase.paymentIntent,
          url: null,
        },
      ]);
      mock.seedCharges([
        charge({ id: randomStripeId("ch"), payment_intent: purchase.paymentIntent, amount: money.total, created: now }),
      ]);
      return purchase;
    };
    const discounted = await listed({ total: 1_500, discount: 500 });
    const taxed = await listed({ total: 2_180, tax: 180 });
    const wrong = await listed({ total: 1_900 }, 1_900);
    const run = await server.services.reconciliation.run({ trigger: "manual" });
    expect(run?.status).toBe("succeeded");
    const findings: ReconciliationFinding[] = (
      await server.services.reconciliation.getRun(run?.id ?? "", { limit: 100 })
    ).findings;
    const of = (purchase: Purchase) =>
      findings.filter((f) => f.paymentId === purchase.paymentId).map((f) => ({ kind: f.kind, healed: f.healed }));
    expect(of(discounted)).toEqual([{ kind: "missing_credit", healed: true }]);
    expect(of(taxed)).toEqual([{ kind: "missing_credit", healed: true }]);
    expect(of(wrong)).toEqual([{ kind: "amount_mismatch", healed: false }]);
    expect(await paymentRow(discounted.paymentId)).toMatchObject({
      amountPaidMinor: 1_500,
      creditedAt: expect.any(Date),
    });
    expect(await balanceOf(discounted.userId)).toBe(discounted.credits);
    expect(await balanceOf(wrong.userId)).toBe(0);
  });
});
