import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { createAdminStore } from "../src/admin-store.ts";
import { rowsOf } from "../src/client.ts";
import { seedDefaults } from "../src/seed.ts";
import { createUser } from "./fixtures.ts";
import { onPostgres, testDb } from "./setup.ts";

// The daily totals (migrations 0011, 0036, 0038, 0040) are kept by triggers in the posting
// transaction: after any mix of postings, rollbacks and payment changes they equal what the ledger
// and the payments say when summed from scratch (the stats' definition, computed here the slow
// way): revenue is what was paid (the price when no amount paid is recorded) less what was
// refunded, less what an open or lost dispute took (its amount, at most what the refunds left; the
// whole charge when none was recorded), less the tax's share of what was kept.
const { db } = testDb;
const admin = createAdminStore(db);
const day = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000);

async function fromScratch(from: Date, to: Date) {
  const [first, last] = [from.toISOString().slice(0, 10), to.toISOString().slice(0, 10)];
  const ledger = rowsOf<{ day: string; purchased: string; spent: string; adjusted: string; clawed_back: string }>(
    await db.execute(sql`
      SELECT to_char((created_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD') AS day,
             coalesce(sum(amount) FILTER (WHERE kind = 'purchase'), 0) AS purchased,
             coalesce(-sum(amount) FILTER (WHERE kind IN ('spend', 'hold', 'hold_release')), 0) AS spent,
             coalesce(sum(amount) FILTER (WHERE kind = 'admin_adjustment'), 0) AS adjusted,
             coalesce(-sum(amount) FILTER (WHERE kind IN ('refund_clawback', 'dispute_clawback', 'dispute_reversal')), 0)
               AS clawed_back
        FROM credit_transactions
       WHERE (created_at AT TIME ZONE 'UTC')::date BETWEEN ${first}::date AND ${last}::date
       GROUP BY 1`),
  );
  const revenue = rowsOf<{ day: string; currency: string; total: string }>(
    await db.execute(sql`
      SELECT to_char((credited_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD') AS day, currency,
             sum(CASE WHEN paid = 0 THEN 0 ELSE kept - coalesce(amount_tax_minor, 0) * kept / paid END) AS total
        FROM (SELECT *, paid - amount_refunded_minor
                        - CASE WHEN dispute_status IN ('open', 'lost')
                               THEN least(coalesce(dispute_amount_minor, paid), paid - amount_refunded_minor)
                               ELSE 0 END AS kept
                FROM (SELECT *, coalesce(amount_paid_minor, amount_minor) AS paid FROM payments) q) p
       WHERE (credited_at AT TIME ZONE 'UTC')::date BETWEEN ${first}::date AND ${last}::date
       GROUP BY 1, 2`),
  );
  return { ledger, revenue };
}

async function expectTotalsMatchLedger() {
  const [from, to] = [day(-3), day(1)];
  const totals = await admin.dailyTotals(from, to);
  const truth = await fromScratch(from, to);
  expect(totals).toHaveLength(5);
  for (const row of totals) {
    const ledger = truth.ledger.find((r) => r.day === row.day);
    expect([row.purchased, row.spent, row.adjusted, row.clawedBack]).toEqual(
      [ledger?.purchased, ledger?.spent, ledger?.adjusted, ledger?.clawed_back].map((v) => Number(v ?? 0)),
    );
    const revenue = Object.fromEntries(
      truth.revenue.filter((r) => r.day === row.day).map((r) => [r.currency, Number(r.total)]),
    );
    expect(row.revenueMinor).toEqual(revenue);
  }
  return totals;
}

const post = (userId: string, amount: number, kind: string, extra: Record<string, unknown> = {}) =>
  db.execute(sql`
    SELECT * FROM post_ledger(jsonb_build_array(jsonb_build_object(
      'ord', 0, 'user_id', ${userId}::uuid, 'amount', ${amount}::bigint, 'kind', ${kind}::text,
      'idempotency_key', ${randomUUID()}::text) || ${JSON.stringify(extra)}::jsonb))`);

const today = () => new Date().toISOString().slice(0, 10);
const todayOf = (totals: Awaited<ReturnType<typeof admin.dailyTotals>>) => totals.find((d) => d.day === today());

describe("daily totals", () => {
  it("count every kind of posting once, as the ledger sums them", async () => {
    const before = todayOf(await expectTotalsMatchLedger());
    const userId = await createUser(db);
    await post(userId, 500, "purchase");
    await post(userId, 100, "grant");
    await post(userId, -30, "spend");
    await post(userId, -20, "hold");
    await post(userId, 5, "hold_release");
    await post(userId, 40, "admin_adjustment");
    await post(userId, -7, "admin_adjustment");
    await post(userId, -50, "refund_clawback");
    const after = todayOf(await expectTotalsMatchLedger());
    expect(after?.purchased).toBe((before?.purchased ?? 0) + 500);
    expect(after?.spent).toBe((before?.spent ?? 0) + 45);
    expect(after?.adjusted).toBe((before?.adjusted ?? 0) + 33);
    expect(after?.clawedBack).toBe((before?.clawedBack ?? 0) + 50);
  });

  it("do not count a posting whose transaction rolled back, nor a replayed key", async () => {
    const userId = await createUser(db);
    await post(userId, 100, "purchase");
    const before = todayOf(await expectTotalsMatchLedger());
    await expect(
      db.transaction(async (tx) => {
        await tx.execute(sql`
          SELECT * FROM post_ledger(jsonb_build_array(jsonb_build_object(
            'ord', 0, 'user_id', ${userId}::uuid, 'amount', -60, 'kind', 'spend', 'idempotency_key', 'rolled-back')))`);
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    const key = randomUUID();
    for (let i = 0; i < 2; i += 1) {
      await db.execute(sql`
        SELECT * FROM post_ledger(jsonb_build_array(jsonb_build_object(
          'ord', 0, 'user_id', ${userId}::uuid, 'amount', -10, 'kind', 'spend', 'idempotency_key', ${key}::text)))`);
    }
    const after = todayOf(await expectTotalsMatchLedger());
    expect(after?.spent).toBe((before?.spent ?? 0) + 10);
  });

  it("follow a payment's revenue from crediting through a partial refund", async () => {
    await seedDefaults(db);
    const userId = await createUser(db);
    const [pack] = rowsOf<{ id: string }>(await db.execute(sql`SELECT id FROM credit_packages LIMIT 1`));
    const [payment] = rowsOf<{ id: string }>(
      await db.execute(sql`
        INSERT INTO payments (user_id, package_id, credits, amount_minor, currency, provider, status)
        VALUES (${userId}::uuid, ${pack?.id}::uuid, 100, 1000, 'eur', 'local', 'pending') RETURNING id`),
    );
    const revenueToday = async () => todayOf(await expectTotalsMatchLedger())?.revenueMinor.eur ?? 0;
    const before = await revenueToday();
    await db.execute(sql`UPDATE payments SET status = 'paid', credited_at = now() WHERE id = ${payment?.id}::uuid`);
    expect(await revenueToday()).toBe(before + 1_000);
    await db.execute(sql`UPDATE payments SET amount_refunded_minor = 250 WHERE id = ${payment?.id}::uuid`);
    await db.execute(sql`UPDATE payments SET updated_at = now() WHERE id = ${payment?.id}::uuid`);
    expect(await revenueToday()).toBe(before + 750);
  });

  it("count what a payment paid, not its price: a promotion code, a free one, an amount paid set after crediting", async () => {
    await seedDefaults(db);
    const userId = await createUser(db);
    const [pack] = rowsOf<{ id: string }>(await db.execute(sql`SELECT id FROM credit_packages LIMIT 1`));
    const newPayment = async () => {
      const [row] = rowsOf<{ id: string }>(
        await db.execute(sql`
          INSERT INTO payments (user_id, package_id, credits, amount_minor, currency, provider, status)
          VALUES (${userId}::uuid, ${pack?.id}::uuid, 100, 2000, 'gbp', 'local', 'pending') RETURNING id`),
      );
      return row?.id as string;
    };
    const credit = (id: string, paid: number) =>
      db.execute(sql`
        UPDATE payments SET status = 'paid', credited_at = now(), amount_paid_minor = ${paid},
               amount_subtotal_minor = 2000, amount_discount_minor = ${2000 - paid}, amount_tax_minor = 0
         WHERE id = ${id}::uuid`);
    const revenueToday = async () => todayOf(await expectTotalsMatchLedger())?.revenueMinor.gbp ?? 0;
    const before = await revenueToday();
    const [discounted, free, legacy] = [await newPayment(), await newPayment(), await newPayment()];
    await credit(discounted, 1_500);
    expect(await revenueToday()).toBe(before + 1_500);
    await credit(free, 0);
    expect(await revenueToday()).toBe(before + 1_500);
    await db.execute(sql`UPDATE payments SET amount_refunded_minor = 600 WHERE id = ${discounted}::uuid`);
    expect(await revenueToday()).toBe(before + 900);
    // Credited first (its price counted), its amount paid recorded by a later change.
    await db.execute(sql`UPDATE payments SET status = 'paid', credited_at = now() WHERE id = ${legacy}::uuid`);
    expect(await revenueToday()).toBe(before + 2_900);
    await db.execute(sql`
      UPDATE payments SET amount_paid_minor = 1200, amount_subtotal_minor = 2000, amount_discount_minor = 800,
             amount_tax_minor = 0 WHERE id = ${legacy}::uuid`);
    expect(await revenueToday()).toBe(before + 2_100);
  });

  it("leave out the tax and what a dispute took while it is open or lost, and count it again once won", async () => {
    await seedDefaults(db);
    const userId = await createUser(db);
    const [pack] = rowsOf<{ id: string }>(await db.execute(sql`SELECT id FROM credit_packages LIMIT 1`));
    // Charged 2 400 chf (a currency no other test here writes), 400 of it tax.
    const credited = async (at = sql`now()`) => {
      const [row] = rowsOf<{ id: string; day: string }>(
        await db.execute(sql`
          INSERT INTO payments (user_id, package_id, credits, amount_minor, currency, provider, status, credited_at,
                                amount_paid_minor, amount_subtotal_minor, amount_discount_minor, amount_tax_minor)
          VALUES (${userId}::uuid, ${pack?.id}::uuid, 100, 2000, 'chf', 'stripe', 'paid', ${at}, 2400, 2000, 0, 400)
          RETURNING id, to_char((credited_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD') AS day`),
      );
      return { id: row?.id as string, day: row?.day as string };
    };
    const set = (id: string, change: ReturnType<typeof sql>) =>
      db.execute(sql`UPDATE payments SET ${change} WHERE id = ${id}::uuid`);
    // The day comes from the row the database stamped, never from this process's clock.
    const first = await credited();
    const revenueOn = async () =>
      (await expectTotalsMatchLedger()).find((d) => d.day === first.day)?.revenueMinor.chf ?? 0;
    const start = (await revenueOn()) - 2_000;
    // A quarter refunded: 1 800 kept, 300 of it tax.
    await set(first.id, sql`amount_refunded_minor = 600`);
    expect(await revenueOn()).toBe(start + 1_500);
    // 900 disputed, withdrawn at once: 900 kept, 150 of it tax.
    await set(first.id, sql`dispute_status = 'open', dispute_amount_minor = 900`);
    expect(await revenueOn()).toBe(start + 750);
    await set(first.id, sql`dispute_status = 'won'`);
    expect(await revenueOn()).toBe(start + 1_500);
    // Lost in full, with no amount recorded (a dispute from before 0040): nothing left.
    const second = await credited(sql`(SELECT credited_at FROM payments WHERE id = ${first.id}::uuid)`);
    expect(await revenueOn()).toBe(start + 3_500);
    await set(second.id, sql`dispute_status = 'lost'`);
    expect(await revenueOn()).toBe(start + 1_500);
  });

  it("answer a zero for a day nothing happened on", async () => {
    const [first] = await admin.dailyTotals(day(-400), day(-400));
    expect(first).toEqual({
      day: day(-400).toISOString().slice(0, 10),
      purchased: 0,
      spent: 0,
      adjusted: 0,
      clawedBack: 0,
      revenueMinor: {},
    });
  });
});

describe.runIf(onPostgres)("daily totals under concurrent postings", () => {
  it("stay exact when many connections post at once (no row two postings wait on)", async () => {
    const users = await Promise.all(Array.from({ length: 8 }, () => createUser(db)));
    const pg = postgres(testDb.url as string, { max: 8, onnotice: () => {} });
    try {
      await Promise.all(
        users.map(
          (userId) =>
            pg`SELECT * FROM post_ledger(jsonb_build_array(jsonb_build_object(
               'ord', 0, 'user_id', ${userId}::uuid, 'amount', 1000, 'kind', 'purchase',
               'idempotency_key', ${randomUUID()}::text)))`,
        ),
      );
      await Promise.all(
        Array.from({ length: 80 }, (_, i) =>
          pg.begin(async (tx) => {
            const userId = users[i % users.length] as string;
            await tx`SELECT * FROM post_ledger(jsonb_build_array(jsonb_build_object(
                       'ord', 0, 'user_id', ${userId}::uuid, 'amount', -3, 'kind', 'spend',
                       'idempotency_key', ${randomUUID()}::text)))`;
            await tx`SELECT pg_sleep(0.005)`;
          }),
        ),
      );
      const [row] = await pg`SELECT count(DISTINCT stripe)::int AS stripes FROM ledger_daily_totals`;
      expect(row?.stripes).toBeGreaterThan(1);
    } finally {
      await pg.end();
    }
    await expectTotalsMatchLedger();
  });
});
