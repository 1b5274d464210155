import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { Database } from "../src/client.ts";
import { rowsOf } from "../src/client.ts";
import { seedDefaults } from "../src/seed.ts";
import { databaseBefore } from "./older-database.ts";
import { testDb } from "./setup.ts";

// Migrations 0038 and 0040 (ADR 021): the daily revenue leaves out the tax collected for the state
// and the money a dispute took (an open or lost one: its amount, never more than the refunds left;
// a won one gives it back). Each payment is credited on a day of its own in the past, and the
// figures are compared day by day, so a rebuild booking a payment on another day (or today) fails.
type Money = {
  paid: number;
  tax?: number;
  refunded?: number;
  dispute?: "open" | "won" | "lost";
  // The dispute's amount; none: recorded before 0040, taken as the whole charge.
  disputed?: number;
};

// Price 2 000 eur; tax on top of what is paid, as ADR 021's sum has it. `before`: 0036's figure
// (what was charged less refunds), `whole`: the figure with no dispute amount recorded.
const cases: { name: string; money: Money; revenue: number; before: number; whole?: number }[] = [
  { name: "taxed", money: { paid: 2_400, tax: 400 }, revenue: 2_000, before: 2_400 },
  { name: "discounted", money: { paid: 1_500 }, revenue: 1_500, before: 1_500 },
  { name: "partly refunded", money: { paid: 2_000, refunded: 500 }, revenue: 1_500, before: 1_500 },
  // A quarter of the charge back, a quarter of the tax with it: 1 800 kept, 300 of it tax.
  { name: "taxed, partly refunded", money: { paid: 2_400, tax: 400, refunded: 600 }, revenue: 1_500, before: 1_800 },
  { name: "taxed, fully refunded", money: { paid: 2_400, tax: 400, refunded: 2_400 }, revenue: 0, before: 0 },
  { name: "dispute lost", money: { paid: 2_000, dispute: "lost", disputed: 2_000 }, revenue: 0, before: 2_000 },
  // Half the charge disputed: 1 200 kept, 200 of it tax.
  {
    name: "taxed, half of it disputed and lost",
    money: { paid: 2_400, tax: 400, dispute: "lost", disputed: 1_200 },
    revenue: 1_000,
    before: 2_400,
    whole: 0,
  },
  {
    name: "refunded, then a dispute lost",
    money: { paid: 2_000, refunded: 500, dispute: "lost", disputed: 2_000 },
    revenue: 0,
    before: 1_500,
  },
  {
    name: "refunded, then part of the rest disputed and lost",
    money: { paid: 2_000, refunded: 500, dispute: "lost", disputed: 700 },
    revenue: 800,
    before: 1_500,
    whole: 0,
  },
  {
    name: "dispute won",
    money: { paid: 2_400, tax: 400, dispute: "won", disputed: 2_400 },
    revenue: 2_000,
    before: 2_400,
  },
  // Stripe withdrew the funds when the dispute opened: not ours until it is won.
  { name: "dispute open", money: { paid: 2_000, dispute: "open", disputed: 2_000 }, revenue: 0, before: 2_000 },
  {
    name: "part of it disputed, open",
    money: { paid: 2_000, dispute: "open", disputed: 300 },
    revenue: 1_700,
    before: 2_000,
    whole: 0,
  },
  { name: "free", money: { paid: 0 }, revenue: 0, before: 0 },
];

// Case i of a batch is credited on day `first + i` (UTC noon, far from either midnight).
const dayOf = (first: number, i: number) => new Date(Date.UTC(2024, 1, first + i)).toISOString().slice(0, 10);

// Credited at its price first, then the session's amounts, then refunds and the dispute, each its
// own change (as the webhooks write them), so the trigger folds every step. `withAmount`: the
// database has 0040's dispute_amount_minor.
async function payment(
  db: Database,
  ids: { user: string; pack: string },
  money: Money,
  day: string,
  withAmount: boolean,
) {
  const [row] = rowsOf<{ id: string }>(
    await db.execute(sql`
      INSERT INTO payments (user_id, package_id, credits, amount_minor, currency, provider, status)
      VALUES (${ids.user}::uuid, ${ids.pack}::uuid, 100, 2000, 'eur', 'stripe', 'pending') RETURNING id`),
  );
  const id = row?.id as string;
  const tax = money.tax ?? 0;
  await db.execute(sql`
    UPDATE payments SET status = 'paid', credited_at = ${`${day}T12:00:00Z`}::timestamptz WHERE id = ${id}::uuid`);
  await db.execute(sql`
    UPDATE payments SET amount_paid_minor = ${money.paid}, amount_subtotal_minor = 2000,
           amount_discount_minor = ${2000 + tax - money.paid}, amount_tax_minor = ${tax}
     WHERE id = ${id}::uuid`);
  if (money.refunded)
    await db.execute(sql`UPDATE payments SET amount_refunded_minor = ${money.refunded} WHERE id = ${id}::uuid`);
  if (!money.dispute) return;
  const amount = withAmount && money.disputed !== undefined ? sql`, dispute_amount_minor = ${money.disputed}` : sql``;
  await db.execute(sql`UPDATE payments SET dispute_status = 'open' ${amount} WHERE id = ${id}::uuid`);
  if (money.dispute !== "open")
    await db.execute(sql`UPDATE payments SET dispute_status = ${money.dispute}::dispute_status WHERE id = ${id}::uuid`);
}

async function revenueByDay(db: Database): Promise<Record<string, number>> {
  const rows = rowsOf<{ day: string; total: string }>(
    await db.execute(sql`
      SELECT to_char(day, 'YYYY-MM-DD') AS day, sum(net_minor) AS total
        FROM revenue_daily_totals WHERE currency = 'eur' GROUP BY 1`),
  );
  return Object.fromEntries(rows.map((r) => [r.day, Number(r.total)]));
}

async function fixtures(db: Database) {
  await seedDefaults(db);
  const [user] = rowsOf<{ id: string }>(
    await db.execute(sql`INSERT INTO users (email) VALUES (${`m-${randomUUID()}@example.test`}) RETURNING id`),
  );
  const [pack] = rowsOf<{ id: string }>(await db.execute(sql`SELECT id FROM credit_packages LIMIT 1`));
  return { user: user?.id ?? "", pack: pack?.id ?? "" };
}

// 0040's rebuild (its last two statements), run again on a database already migrated.
const rebuild = readFileSync(
  new URL("../../../drizzle/0040_promo15_dispute_amount_revenue.sql", import.meta.url),
  "utf8",
)
  .split("--> statement-breakpoint")
  .slice(-2);

describe("migrating the daily revenue to leave out tax and disputes", () => {
  it(`the rebuilds and the trigger give the same figures, day by day (${testDb.driver})`, async () => {
    const handle = await databaseBefore("0038");
    const { db } = handle;
    const ids = await fixtures(db);
    for (const [i, c] of cases.entries()) await payment(db, ids, c.money, dayOf(1, i), false);
    expect(await revenueByDay(db)).toEqual(Object.fromEntries(cases.map((c, i) => [dayOf(1, i), c.before])));

    await handle.migrate();
    // Written before 0040: no dispute amount, each dispute taken as the whole charge.
    const migrated = Object.fromEntries(cases.map((c, i) => [dayOf(1, i), c.whole ?? c.revenue]));
    expect(await revenueByDay(db)).toEqual(migrated);

    // After it, the trigger folds each change with its dispute's amount...
    for (const [i, c] of cases.entries()) await payment(db, ids, c.money, dayOf(15, i), true);
    const all = { ...migrated, ...Object.fromEntries(cases.map((c, i) => [dayOf(15, i), c.revenue])) };
    expect(await revenueByDay(db)).toEqual(all);
    // ...and the rebuild from the payments agrees, day by day.
    for (const statement of rebuild) await db.execute(sql.raw(statement));
    expect(await revenueByDay(db)).toEqual(all);
  });

  // Each case alone, through the trigger on a database migrated to the end.
  for (const [i, c] of cases.entries()) {
    it(`${c.name}: ${c.revenue} (${testDb.driver})`, async () => {
      const { db } = testDb;
      const ids = await fixtures(db);
      const day = dayOf(40, i);
      const before = (await revenueByDay(db))[day] ?? 0;
      await payment(db, ids, c.money, day, true);
      expect((await revenueByDay(db))[day] ?? 0).toBe(before + c.revenue);
    });
  }
});
