import { type Payment, recordPromotion } from "@credits/core";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { Database } from "../src/client.ts";
import { rowsOf } from "../src/client.ts";
import { createLedgerStore } from "../src/ledger-store.ts";
import { createPaymentStore } from "../src/payment-store.ts";
import { createRefundStore } from "../src/refund-store.ts";
import { adminActions } from "../src/schema.ts";
import { seedDefaults } from "../src/seed.ts";
import { createUser } from "./fixtures.ts";
import { onPostgres, testDb } from "./setup.ts";

// A user's promotion codes add up over the approval window (ADR 021, review11 F7): the credits
// their discounted purchases left unpaid, summed from the audit rows of the window, each rounded up,
// against the approval threshold, read under the user's balance lock.
const { db } = testDb;
const store = createPaymentStore(db);
const HOUR = 3_600_000;
const rule = { threshold: 3, windowMs: 24 * HOUR };

// A credited purchase of `credits` at `price`, `discount` of it taken off by a code.
async function discounted(userId: string, money: { credits: number; price: number; discount: number }) {
  await seedDefaults(db);
  const [pack] = rowsOf<{ id: string }>(await db.execute(sql`SELECT id FROM credit_packages LIMIT 1`));
  const [row] = rowsOf<{ id: string }>(
    await db.execute(sql`
      INSERT INTO payments (user_id, package_id, credits, amount_minor, currency, provider, status, credited_at,
                            amount_paid_minor, amount_subtotal_minor, amount_discount_minor, amount_tax_minor)
      VALUES (${userId}::uuid, ${pack?.id}::uuid, ${money.credits}, ${money.price}, 'usd', 'stripe', 'paid', now(),
              ${money.price - money.discount}, ${money.price}, ${money.discount}, 0)
      RETURNING id`),
  );
  return (await store.findPayment(row?.id as string)) as Payment;
}

// In its own transaction, as crediting does; `hold` keeps it open after the audit row is written.
const record = (payment: Payment, hold = async (_tx: Database) => {}) =>
  db.transaction(async (tx) => {
    const stores = {
      payments: createPaymentStore(tx),
      refunds: createRefundStore(tx),
      ledger: createLedgerStore(tx, true),
    };
    await recordPromotion(stores, payment, rule, "test");
    await hold(tx);
  });

const reviewOf = async (payment: Payment) => (await store.findPayment(payment.id))?.reviewReason ?? null;

describe("a user's promotion codes over the approval window", () => {
  it("many tiny discounts add up: each purchase's unpaid share counts rounded up, not down to 0", async () => {
    const userId = await createUser(db);
    // Half of 1 credit unpaid each: 0 rounded down, 1 rounded up; the fourth takes 4 above 3.
    const purchases: Payment[] = [];
    for (let i = 0; i < 4; i++) {
      const payment = await discounted(userId, { credits: 1, price: 1_000, discount: 500 });
      await record(payment);
      purchases.push(payment);
    }
    const reviews = await Promise.all(purchases.map(reviewOf));
    expect(reviews.slice(0, 3)).toEqual([null, null, null]);
    expect(reviews[3]).toContain("4 credits unpaid by promotion codes within 24 hours");
  });

  it("sums only the user's promotion rows written within the window, older rows without the rounded-up share too", async () => {
    const [userId, otherId] = [await createUser(db), await createUser(db)];
    const row = (target: string, action: "payment.promotion_applied" | "adjust", hoursAgo: number, detail: object) =>
      db.insert(adminActions).values({
        targetUserId: target,
        action,
        amount: 100,
        detail,
        createdAt: sql`now() - ${hoursAgo} * interval '1 hour'`,
      });
    // Backdated past the window's edge: left out.
    await row(userId, "payment.promotion_applied", 25, { unpaidCredits: 50, unpaidCreditsUp: 50 });
    // Another action, another user: left out.
    await row(userId, "adjust", 1, { unpaidCredits: 50, unpaidCreditsUp: 50 });
    await row(otherId, "payment.promotion_applied", 1, { unpaidCredits: 50, unpaidCreditsUp: 50 });
    // Within it: counted, the rounded-down share when that is all the row has (before promo15d).
    await row(userId, "payment.promotion_applied", 23, { unpaidCredits: 1 });
    await row(userId, "payment.promotion_applied", 2, { unpaidCredits: 0, unpaidCreditsUp: 1 });
    expect(await store.unpaidPromotionCredits(userId, rule.windowMs)).toBe(2);

    const under = await discounted(userId, { credits: 10, price: 1_000, discount: 100 });
    await record(under);
    expect(await reviewOf(under)).toBeNull();
    const over = await discounted(userId, { credits: 10, price: 1_000, discount: 100 });
    await record(over);
    expect(await reviewOf(over)).toContain("4 credits unpaid by promotion codes within 24 hours");
  });
});

describe.runIf(onPostgres)("a user's promotion codes credited at once", () => {
  it("two purchases in two transactions see each other: the second to take the lock is flagged", async () => {
    const userId = await createUser(db);
    // 2 unpaid each: 2 alone, 4 together, above 3.
    const [a, b] = [
      await discounted(userId, { credits: 10, price: 1_000, discount: 200 }),
      await discounted(userId, { credits: 10, price: 1_000, discount: 200 }),
    ] as [Payment, Payment];
    // Each stays open a while after writing its audit row: without the lock, both would read 0.
    const hold = async (tx: Database) => {
      await tx.execute(sql`SELECT pg_sleep(0.3)`);
    };
    await Promise.all([record(a, hold), record(b, hold)]);
    const reviews = await Promise.all([reviewOf(a), reviewOf(b)]);
    expect(reviews.filter((r) => r === null)).toHaveLength(1);
    expect(reviews.find((r) => r !== null)).toContain("4 credits unpaid by promotion codes within 24 hours");
  });
});
