// What a promotion code does to the money beyond crediting the pack (issue 15 review, ADR 021),
// Stripe's API answered by msw: the daily revenue counts what was paid (migration 0036), the
// credits.purchased event says it, the receipt shows the price, the discount and what was paid,
// and every discounted purchase is audited, one giving away more unpaid credits than an admin may
// grant alone (ADMIN_APPROVAL_THRESHOLD) flagged for review, credited all the same.
import { adminActions, mails, outboxEvents } from "@credits/db/schema";
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  balanceOf,
  call,
  charge,
  db,
  deliver,
  failOnLoggedError,
  type Purchase,
  paymentRow,
  type StripeJson,
  sessionEvent,
  signUp,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
  type TestUser,
} from "./helpers.ts";
import { createAdmin, refund } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer({
  ...stripeEnv,
  STRIPE_ALLOW_PROMOTION_CODES: "true",
  ADMIN_REFUND_APPROVAL_MINOR: "usd:100000",
  // Starter is 100 credits, Standard 500, Pro 2 000.
  ADMIN_APPROVAL_THRESHOLD: "400",
  // Mail kept in the local outbox (no SMTP_URL), sent soon.
  MAIL_POLL_INTERVAL_MS: "100",
});
const admin = await createAdmin(server);
failOnLoggedError();

type Slug = "starter" | "standard" | "pro";

// Completed at Stripe with this much off: paid (a charge to refund) or, all of it off, a no-cost
// order (no PaymentIntent, nothing to pay).
async function boughtWith(slug: Slug, discount: number, buyer?: TestUser) {
  const user = buyer ?? (await signUp(server.url));
  const purchase = await startPurchase(server, slug, user.id);
  const free = discount >= purchase.amountMinor;
  const total = purchase.amountMinor - discount;
  const overrides: StripeJson = {
    amount_subtotal: purchase.amountMinor,
    amount_total: total,
    total_details: { amount_discount: discount, amount_shipping: 0, amount_tax: 0 },
    ...(free ? { payment_status: "no_payment_required", payment_intent: null } : {}),
  };
  const event = sessionEvent(mock, purchase.sessionId, "checkout.session.completed", {
    paymentIntent: free ? null : purchase.paymentIntent,
    overrides,
  });
  expect((await deliver(server.url, event)).status).toBe(200);
  if (!free) mock.addCharge(charge({ id: purchase.chargeId, amount: total, payment_intent: purchase.paymentIntent }));
  if (!buyer) expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
  return { user, purchase };
}

async function revenueToday(): Promise<number> {
  const today = new Date().toISOString().slice(0, 10);
  const reply = await call(server.url, "GET", `/api/v1/admin/stats/daily?from=${today}&to=${today}`, {
    cookie: admin.cookie,
  });
  expect(reply.status).toBe(200);
  return reply.body.days[0]?.revenueMinor.usd ?? 0;
}

const purchasedEvent = async (purchase: Purchase) => {
  const rows = await db
    .select({ payload: outboxEvents.payload })
    .from(outboxEvents)
    .where(and(eq(outboxEvents.type, "credits.purchased"), eq(outboxEvents.userId, purchase.userId)));
  expect(rows).toHaveLength(1);
  return (rows[0]?.payload as { data?: Record<string, unknown> } | undefined)?.data;
};

const auditOf = (purchase: Purchase) =>
  db
    .select({ action: adminActions.action, amount: adminActions.amount, reason: adminActions.reason })
    .from(adminActions)
    .where(
      and(
        sql`${adminActions.detail}->>'paymentId' = ${purchase.paymentId}`,
        sql`${adminActions.action} LIKE 'payment.promotion%'`,
      ),
    );

describe("a promotion code's money", () => {
  it("the daily revenue counts what was paid: a discounted and a free purchase, then a refund of the discounted one", async () => {
    const before = await revenueToday();
    const { purchase: discounted } = await boughtWith("standard", 500);
    expect(await revenueToday()).toBe(before + 1_500);
    await boughtWith("standard", 2_000);
    expect(await revenueToday()).toBe(before + 1_500);

    const refunded = await refund(server, admin, discounted.paymentId, { amount: 600 });
    expect(refunded.body).toMatchObject({ amount: 600, status: "succeeded" });
    expect(await paymentRow(discounted.paymentId)).toMatchObject({ amountRefundedMinor: 600 });
    expect(await revenueToday()).toBe(before + 900);
  });

  it("credits.purchased says what was paid and the discount, besides the price", async () => {
    const { purchase: discounted } = await boughtWith("standard", 500);
    expect(await purchasedEvent(discounted)).toMatchObject({
      amountMinor: 2_000,
      amountPaidMinor: 1_500,
      amountDiscountMinor: 500,
      amountTaxMinor: 0,
    });
    const { purchase: free } = await boughtWith("starter", 500);
    expect(await purchasedEvent(free)).toMatchObject({
      amountMinor: 500,
      amountPaidMinor: 0,
      amountDiscountMinor: 500,
    });
  });

  it("the receipt mail says what was paid", async () => {
    const { purchase } = await boughtWith("standard", 500);
    const sent = async () => {
      const [row] = await db
        .select()
        .from(mails)
        .where(eq(mails.cause, `receipt:${purchase.paymentId}`));
      return (row?.rendered as { text?: string } | null)?.text ?? "";
    };
    await expect.poll(sent, { timeout: 10_000, interval: 50 }).toContain("Amount paid: $15.00.");
  });

  it("the receipt shows the price, the discount and what was paid", async () => {
    for (const [slug, discount] of [
      ["standard", 500],
      ["starter", 500],
    ] as const) {
      const { user, purchase } = await boughtWith(slug, discount);
      const path = `/api/v1/payments/${purchase.paymentId}/receipt`;
      const receipt = await call(server.url, "GET", path, { cookie: user.cookie });
      expect(receipt.status).toBe(200);
      expect(receipt.body).toMatchObject({
        amountMinor: purchase.amountMinor - discount,
        priceMinor: purchase.amountMinor,
        discountMinor: discount,
        taxMinor: 0,
      });
    }
  });

  it("every discounted purchase is audited; unpaid credits above the approval threshold are flagged for review, credited all the same", async () => {
    // 100 credits free, 125 of 500 unpaid: audited only.
    const { purchase: smallFree } = await boughtWith("starter", 500);
    const { purchase: quarterOff } = await boughtWith("standard", 500);
    for (const purchase of [smallFree, quarterOff]) {
      expect(await paymentRow(purchase.paymentId)).toMatchObject({ reviewReason: null });
      expect(await auditOf(purchase)).toEqual([
        { action: "payment.promotion_applied", amount: purchase.credits, reason: null },
      ]);
    }
    // 500 credits free, and 1 000 of Pro's 2 000 unpaid at half price: above 400.
    const { user, purchase: bigFree } = await boughtWith("standard", 2_000);
    const { purchase: halfOff } = await boughtWith("pro", 3_500);
    for (const [purchase, unpaid] of [
      [bigFree, 500],
      [halfOff, 1_000],
    ] as const) {
      const reason = expect.stringContaining(`${unpaid} of its ${purchase.credits} credits unpaid`);
      expect(await paymentRow(purchase.paymentId)).toMatchObject({ status: "paid", reviewReason: reason });
      expect(await auditOf(purchase)).toEqual([
        { action: "payment.promotion_review", amount: purchase.credits, reason },
      ]);
    }
    const mine = await call(server.url, "GET", `/api/v1/payments/${bigFree.paymentId}`, { cookie: user.cookie });
    expect(mine.body).toMatchObject({ credited: true, underReview: true, amountPaidMinor: 0 });
    const view = await call(server.url, "GET", `/api/v1/admin/users/${bigFree.userId}`, { cookie: admin.cookie });
    expect(view.body.payments.find((p: { id: string }) => p.id === bigFree.paymentId)).toMatchObject({
      reviewReason: expect.stringMatching(/^a promotion code took 2000 of 2000 usd/),
    });

    // A purchase at full price writes nothing of the kind.
    const { purchase: full } = await boughtWith("pro", 0);
    expect(await auditOf(full)).toEqual([]);
    expect(await paymentRow(full.paymentId)).toMatchObject({ reviewReason: null });
  });

  // Review11 F7: one user's codes add up over the adjustments' approval window
  // (ADMIN_APPROVAL_WINDOW_HOURS), as their adjustments and key grants do (ADR 023), so a large
  // discount split into purchases each below the threshold is flagged once their sum crosses it.
  it("small discounted purchases of one user are flagged once their unpaid credits together cross the threshold", async () => {
    const { user, purchase: first } = await boughtWith("standard", 500);
    const purchases = [first];
    for (let i = 0; i < 3; i++) purchases.push((await boughtWith("standard", 500, user)).purchase);
    expect(await balanceOf(user.id)).toBe(4 * 500);
    // 125 unpaid each: 375 after three, 500 with the fourth, above 400.
    const [a, b, c, d] = purchases as [Purchase, Purchase, Purchase, Purchase];
    for (const purchase of [a, b, c]) {
      expect(await paymentRow(purchase.paymentId)).toMatchObject({ reviewReason: null });
      expect((await auditOf(purchase)).map((row) => row.action)).toEqual(["payment.promotion_applied"]);
    }
    const reason = expect.stringContaining("500 credits unpaid by promotion codes within 24 hours");
    expect(await paymentRow(d.paymentId)).toMatchObject({ status: "paid", reviewReason: reason });
    expect(await auditOf(d)).toEqual([{ action: "payment.promotion_review", amount: 500, reason }]);
    // Another user's codes are theirs alone.
    const { purchase: other } = await boughtWith("standard", 500);
    expect(await paymentRow(other.paymentId)).toMatchObject({ reviewReason: null });
  });
});
