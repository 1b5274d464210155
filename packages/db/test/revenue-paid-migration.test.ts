import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rowsOf } from "../src/client.ts";
import { seedDefaults } from "../src/seed.ts";
import { databaseBefore } from "./older-database.ts";
import { testDb } from "./setup.ts";

// Migration 0036 on payments credited under 0011's fold, which counted each at its price: the
// daily revenue is rebuilt from what was paid (a promotion code's discount, a free purchase, a
// refund after a discount, a payment with no amount paid recorded keeping its price), and the
// fold from then on moves the totals by what was paid.
describe("migrating the daily revenue to what was paid", () => {
  it(`rebuilds the totals from the payments and folds on the amount paid after (${testDb.driver})`, async () => {
    const handle = await databaseBefore("0036");
    const { db } = handle;
    await seedDefaults(db);
    const [user] = rowsOf<{ id: string }>(
      await db.execute(sql`INSERT INTO users (email) VALUES (${`m-${randomUUID()}@example.test`}) RETURNING id`),
    );
    const [pack] = rowsOf<{ id: string }>(await db.execute(sql`SELECT id FROM credit_packages LIMIT 1`));
    const credited = async (paid: number | null, refunded = 0) => {
      const [row] = rowsOf<{ id: string }>(
        await db.execute(sql`
          INSERT INTO payments (user_id, package_id, credits, amount_minor, currency, provider, status)
          VALUES (${user?.id}::uuid, ${pack?.id}::uuid, 100, 2000, 'eur', 'stripe', 'pending') RETURNING id`),
      );
      const amounts =
        paid === null
          ? sql``
          : sql`, amount_paid_minor = ${paid}, amount_subtotal_minor = 2000,
                 amount_discount_minor = ${2000 - paid}, amount_tax_minor = 0`;
      await db.execute(sql`
        UPDATE payments SET status = 'paid', credited_at = now(), amount_refunded_minor = ${refunded} ${amounts}
         WHERE id = ${row?.id}::uuid`);
      return row?.id as string;
    };
    const revenue = async () => {
      const [row] = rowsOf<{ total: string | null }>(
        await db.execute(sql`SELECT sum(net_minor) AS total FROM revenue_daily_totals WHERE currency = 'eur'`),
      );
      return Number(row?.total ?? 0);
    };
    const discountedThenRefunded = await credited(1_500, 600);
    await credited(1_500);
    await credited(0);
    await credited(null);
    // 0011's fold: every payment at its price, less refunds.
    expect(await revenue()).toBe(2_000 - 600 + 2_000 + 2_000 + 2_000);

    await handle.migrate();
    expect(await revenue()).toBe(1_500 - 600 + 1_500 + 0 + 2_000);
    const [stripes] = rowsOf<{ stripes: number }>(
      await db.execute(sql`SELECT count(DISTINCT stripe)::int AS stripes FROM revenue_daily_totals`),
    );
    expect(stripes?.stripes).toBe(1);

    await db.execute(sql`UPDATE payments SET amount_refunded_minor = 900 WHERE id = ${discountedThenRefunded}::uuid`);
    await credited(1_200);
    expect(await revenue()).toBe(1_500 - 900 + 1_500 + 0 + 2_000 + 1_200);
  });
});
