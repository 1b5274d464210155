// Review11 F8 (migration 0038, ADR 021): the daily revenue (/admin/stats/daily, which the admin
// dashboard's loader charts) is ours only: the tax collected for the state is left out, a
// discount counts what was paid, a refund lowers it by what it gave back net of its tax share, and
// a lost dispute takes the payment out (a won one leaves it), Stripe's API answered by msw.
import { describe, expect, it } from "vitest";
import {
  call,
  charge,
  deliver,
  failOnLoggedError,
  type Purchase,
  paymentRow,
  purchaseEvents,
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
  ADMIN_REFUND_APPROVAL_MINOR: "usd:100000",
});
const admin = await createAdmin(server);
failOnLoggedError();

// Standard: 2 000 usd cents, sent tax-exclusive; Stripe adds the tax and takes off the discount.
async function paid(money: { discount?: number; tax?: number }): Promise<Purchase> {
  const purchase = await startPurchase(server, "standard");
  const { discount = 0, tax = 0 } = money;
  const total = purchase.amountMinor - discount + tax;
  const event = sessionEvent(mock, purchase.sessionId, "checkout.session.completed", {
    paymentIntent: purchase.paymentIntent,
    overrides: {
      amount_subtotal: purchase.amountMinor,
      amount_total: total,
      total_details: { amount_discount: discount, amount_shipping: 0, amount_tax: tax },
    },
  });
  expect((await deliver(server.url, event)).status).toBe(200);
  mock.addCharge(charge({ id: purchase.chargeId, amount: total, payment_intent: purchase.paymentIntent }));
  expect(await paymentRow(purchase.paymentId)).toMatchObject({ status: "paid", amountPaidMinor: total });
  return purchase;
}

async function revenueToday(): Promise<number> {
  const today = new Date().toISOString().slice(0, 10);
  const reply = await call(server.url, "GET", `/api/v1/admin/stats/daily?from=${today}&to=${today}`, {
    cookie: admin.cookie,
  });
  expect(reply.status).toBe(200);
  return reply.body.days[0]?.revenueMinor.usd ?? 0;
}

async function disputed(purchase: Purchase, outcome: "won" | "lost") {
  const events = purchaseEvents(mock, purchase);
  expect((await deliver(server.url, events.disputeCreated())).status).toBe(200);
  expect((await deliver(server.url, events.disputeClosed(outcome))).status).toBe(200);
  expect(await paymentRow(purchase.paymentId)).toMatchObject({ disputeStatus: outcome });
}

describe("the daily revenue is ours only", () => {
  it("a taxed purchase counts without its tax; a partial refund gives back its share of the tax", async () => {
    const before = await revenueToday();
    const taxed = await paid({ tax: 400 });
    expect(await revenueToday()).toBe(before + 2_000);
    // 600 of 2 400 back: 100 of it was tax, 500 ours.
    const refunded = await refund(server, admin, taxed.paymentId, { amount: 600 });
    expect(refunded.body).toMatchObject({ amount: 600, status: "succeeded" });
    expect(await revenueToday()).toBe(before + 1_500);
  });

  it("a discounted purchase counts what was paid, less a partial refund", async () => {
    const before = await revenueToday();
    const discounted = await paid({ discount: 500 });
    expect(await revenueToday()).toBe(before + 1_500);
    expect((await refund(server, admin, discounted.paymentId, { amount: 300 })).body).toMatchObject({
      status: "succeeded",
    });
    expect(await revenueToday()).toBe(before + 1_200);
  });

  it("a lost dispute takes the payment out of the revenue, a partial refund before it not twice", async () => {
    const before = await revenueToday();
    const lost = await paid({ tax: 400 });
    const refundedThenLost = await paid({});
    expect((await refund(server, admin, refundedThenLost.paymentId, { amount: 500 })).body).toMatchObject({
      status: "succeeded",
    });
    expect(await revenueToday()).toBe(before + 2_000 + 1_500);
    await disputed(lost, "lost");
    await disputed(refundedThenLost, "lost");
    expect(await revenueToday()).toBe(before);
  });

  it("a won dispute leaves the payment counted", async () => {
    const before = await revenueToday();
    const won = await paid({ tax: 400 });
    await disputed(won, "won");
    expect(await revenueToday()).toBe(before + 2_000);
  });
});
