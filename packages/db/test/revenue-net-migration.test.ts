import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { Database } from "../src/client.ts";
import { rowsOf } from "../src/client.ts";
import { seedDefaults } from "../src/seed.ts";
import { databaseBefore } from "./older-database.ts";
import { testDb } from "./setup.ts";

// Migration 0038 (review11 F8): the daily revenue leaves out the tax collected for the state and
// a lost dispute's money. The same payments written before the migration (counted by its rebuild)
// and after it (counted by the trigger, one change at a time) give the same figures.
type Money = { paid: number; tax?: number; refunded?: number; dispute?: "open" | "won" | "lost" };

// Price 2 000 eur; tax on top of what is paid, as ADR 021's sum has it.
const cases: { name: string; money: Money; revenue: number }[] = [
  { name: "taxed", money: { paid: 2_400, tax: 400 }, revenue: 2_000 },
  { name: "discounted", money: { paid: 1_500 }, revenue: 1_500 },
  { name: "partly refunded", money: { paid: 2_000, refunded: 500 }, revenue: 1_500 },
  // A quarter of the charge back, a quarter of the tax with it: 1 800 kept, 300 of it tax.
  { name: "taxed, partly refunded", money: { paid: 2_400, tax: 400, refunded: 600 }, revenue: 1_500 },
  { name: "taxed, fully refunded", money: { paid: 2_400, tax: 400, refunded: 2_400 }, revenue: 0 },
  { name: "dispute lost", money: { paid: 2_000, dispute: "lost" }, revenue: 0 },
  { name: "refunded, then a dispute lost", money: { paid: 2_000, refunded: 500, dispute: "lost" }, revenue: 0 },
  { name: "dispute won", money: { paid: 2_400, tax: 400, dispute: "won" }, revenue: 2_000 },
  { name: "dispute open", money: { paid: 2_000, dispute: "open" }, revenue: 2_000 },
  { name: "free", money: { paid: 0 }, revenue: 0 },
];
const expected = cases.reduce((total, c) => total + c.revenue, 0);

// Credited at its price first, then the session's amounts, then refunds and the dispute, each its
// own change (as the webhooks write them), so the trigger folds every step.
async function payment(db: Database, user: string, pack: string, money: Money) {
  const [row] = rowsOf<{ id: string }>(
    await db.execute(sql`
      INSERT INTO payments (user_id, package_id, credits, amount_minor, currency, provider, status)
      VALUES (${user}::uuid, ${pack}::uuid, 100, 2000, 'eur', 'stripe', 'pending') RETURNING id`),
  );
  const id = row?.id as string;
  const tax = money.tax ?? 0;
  await db.execute(sql`UPDATE payments SET status = 'paid', credited_at = now() WHERE id = ${id}::uuid`);
  await db.execute(sql`
    UPDATE payments SET amount_paid_minor = ${money.paid}, amount_subtotal_minor = 2000,
           amount_discount_minor = ${2000 + tax - money.paid}, amount_tax_minor = ${tax}
     WHERE id = ${id}::uuid`);
  if (money.refunded)
    await db.execute(sql`UPDATE payments SET amount_refunded_minor = ${money.refunded} WHERE id = ${id}::uuid`);
  if (money.dispute) {
    await db.execute(sql`UPDATE payments SET dispute_status = 'open' WHERE id = ${id}::uuid`);
    if (money.dispute !== "open")
      await db.execute(
        sql`UPDATE payments SET dispute_status = ${money.dispute}::dispute_status WHERE id = ${id}::uuid`,
      );
  }
}

async function revenue(db: Database): Promise<number> {
  const [row] = rowsOf<{ total: string | null }>(
    await db.execute(sql`SELECT sum(net_minor) AS total FROM revenue_daily_totals WHERE currency = 'eur'`),
  );
  return Number(row?.total ?? 0);
}

describe("migrating the daily revenue to leave out tax and lost disputes", () => {
  it(`the rebuild and the trigger give the same figures (${testDb.driver})`, async () => {
    const handle = await databaseBefore("0038");
    const { db } = handle;
    await seedDefaults(db);
    const [user] = rowsOf<{ id: string }>(
      await db.execute(sql`INSERT INTO users (email) VALUES (${`m-${randomUUID()}@example.test`}) RETURNING id`),
    );
    const [pack] = rowsOf<{ id: string }>(await db.execute(sql`SELECT id FROM credit_packages LIMIT 1`));
    const write = async () => {
      for (const c of cases) await payment(db, user?.id ?? "", pack?.id ?? "", c.money);
    };

    await write();
    // 0036's fold: what was charged, tax included, less refunds; disputes ignored.
    expect(await revenue(db)).toBe(2_400 + 1_500 + 1_500 + 1_800 + 0 + 2_000 + 1_500 + 2_400 + 2_000 + 0);

    await handle.migrate();
    expect(await revenue(db)).toBe(expected);
    await write();
    expect(await revenue(db)).toBe(2 * expected);
  });

  // Each case alone, through the trigger on a database migrated to the end.
  for (const c of cases) {
    it(`${c.name}: ${c.revenue} (${testDb.driver})`, async () => {
      const { db } = testDb;
      await seedDefaults(db);
      const [user] = rowsOf<{ id: string }>(
        await db.execute(sql`INSERT INTO users (email) VALUES (${`m-${randomUUID()}@example.test`}) RETURNING id`),
      );
      const [pack] = rowsOf<{ id: string }>(await db.execute(sql`SELECT id FROM credit_packages LIMIT 1`));
      const before = await revenue(db);
      await payment(db, user?.id ?? "", pack?.id ?? "", c.money);
      expect(await revenue(db)).toBe(before + c.revenue);
    });
  }
});
