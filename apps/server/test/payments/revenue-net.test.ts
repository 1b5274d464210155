// Review11 F8 and promo15d (migrations 0038, 0040; ADR 021): the daily revenue
// (/admin/stats/daily, which the admin dashboard's loader charts) is ours only: the tax collected
// for the state is left out, a discount counts what was paid, a refund lowers it by what it gave
// back net of its tax share, and a dispute takes out its own amount (all or part of the charge)
// from the day it opens until it is won, Stripe's API answered by msw. Changes are booked on the
// payment's credited day ("by purchase day", ADR 012).
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

// The days around this file's start, fixed once: every purchase here is credited within them, so
// their sum moves only by what the tests do, whichever side of UTC midnight each change lands on.
const [from, to] = [-1, 1].map((d) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10));

async function revenueByDay(): Promise<Record<string, number>> {
  const reply = await call(server.url, "GET", `/api/v1/admin/stats/daily?from=${from}&to=${to}`, {
    cookie: admin.cookie,
  });
  expect(reply.status).toBe(200);
  const days = reply.body.days as { day: string; revenueMinor: Record<string, number> }[];
  return Object.fromEntries(days.map((d) => [d.day, d.revenueMinor.usd ?? 0]));
}

const revenue = async () => Object.values(await revenueByDay()).reduce((sum, v) => sum + v, 0);

// The day a purchase's revenue is booked on: its row's credited_at, stamped by the database.
async function creditedDay(purchase: Purchase): Promise<string> {
  const row = await paymentRow(purchase.paymentId);
  return (row.creditedAt as Date).toISOString().slice(0, 10);
}

// amount: the dispute's (Stripe may dispute part of the charge).
async function disputed(purchase: Purchase, outcome: "won" | "lost", amount: number) {
  const events = purchaseEvents(mock, purchase);
  expect((await deliver(server.url, events.disputeCreated(amount))).status).toBe(200);
  expect((await deliver(server.url, events.disputeClosed(outcome, amount))).status).toBe(200);
  expect(await paymentRow(purchase.paymentId)).toMatchObject({ disputeStatus: outcome, disputeAmountMinor: amount });
}

// The payment as the admin's user page shows it (GET /api/v1/admin/users/{id}).
async function adminPaymentOf(purchase: Purchase) {
  const reply = await call(server.url, "GET", `/api/v1/admin/users/${purchase.userId}`, { cookie: admin.cookie });
  expect(reply.status).toBe(200);
  return (reply.body.payments as { id: string }[]).find((p) => p.id === purchase.paymentId);
}

describe("the daily revenue is ours only", () => {
  it("a taxed purchase counts without its tax, on its credited day; a partial refund gives back its share of the tax", async () => {
    const before = await revenueByDay();
    const taxed = await paid({ tax: 400 });
    const day = await creditedDay(taxed);
    expect((await revenueByDay())[day]).toBe((before[day] ?? 0) + 2_000);
    // 600 of 2 400 back: 100 of it was tax, 500 ours.
    const refunded = await refund(server, admin, taxed.paymentId, { amount: 600 });
    expect(refunded.body).toMatchObject({ amount: 600, status: "succeeded" });
    expect((await revenueByDay())[day]).toBe((before[day] ?? 0) + 1_500);
  });

  it("a discounted purchase counts what was paid, less a partial refund", async () => {
    const before = await revenue();
    const discounted = await paid({ discount: 500 });
    expect(await revenue()).toBe(before + 1_500);
    expect((await refund(server, admin, discounted.paymentId, { amount: 300 })).body).toMatchObject({
      status: "succeeded",
    });
    expect(await revenue()).toBe(before + 1_200);
  });

  it("a dispute lost for the whole charge takes the payment out, a partial refund before it not twice", async () => {
    const before = await revenue();
    const lost = await paid({ tax: 400 });
    const refundedThenLost = await paid({});
    expect((await refund(server, admin, refundedThenLost.paymentId, { amount: 500 })).body).toMatchObject({
      status: "succeeded",
    });
    expect(await revenue()).toBe(before + 2_000 + 1_500);
    await disputed(lost, "lost", 2_400);
    // Stripe disputes what is left of the charge.
    await disputed(refundedThenLost, "lost", 1_500);
    expect(await revenue()).toBe(before);
  });

  it("a dispute for part of the charge takes out that part only, from the day it opens", async () => {
    const before = await revenue();
    const partly = await paid({ tax: 400 });
    const events = purchaseEvents(mock, partly);
    // 1 200 of 2 400 disputed: 1 200 kept, 200 of it tax.
    expect((await deliver(server.url, events.disputeCreated(1_200))).status).toBe(200);
    expect(await paymentRow(partly.paymentId)).toMatchObject({ disputeStatus: "open", disputeAmountMinor: 1_200 });
    expect(await revenue()).toBe(before + 1_000);
    expect((await deliver(server.url, events.disputeClosed("lost", 1_200))).status).toBe(200);
    expect(await revenue()).toBe(before + 1_000);
    // The admin's view of the payment says so, with the dispute's own amount.
    expect(await adminPaymentOf(partly)).toMatchObject({
      status: "dispute_lost",
      dispute: { status: "lost", amountMinor: 1_200 },
    });
  });

  it("an open dispute is withdrawn until it is won", async () => {
    const before = await revenue();
    const won = await paid({ tax: 400 });
    const events = purchaseEvents(mock, won);
    expect((await deliver(server.url, events.disputeCreated(2_400))).status).toBe(200);
    expect(await revenue()).toBe(before);
    expect((await deliver(server.url, events.disputeClosed("won", 2_400))).status).toBe(200);
    expect(await paymentRow(won.paymentId)).toMatchObject({ disputeStatus: "won" });
    expect(await revenue()).toBe(before + 2_000);
    expect(await adminPaymentOf(won)).toMatchObject({ dispute: { status: "won", amountMinor: 2_400 } });
    // A payment never disputed has none.
    expect(await adminPaymentOf(await paid({}))).toMatchObject({ dispute: null });
  });
});
