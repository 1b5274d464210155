import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createCatalogStore } from "../src/catalog-store.ts";
import { rowsOf } from "../src/client.ts";
import { databaseBefore } from "./older-database.ts";
import { testDb } from "./setup.ts";

// Migration 0013 on a catalogue of single-priced packs with an active flag, and payments started
// on them: each price becomes the pack's one (default) price, inactive packs become archived, the
// old order by credits becomes positions, an open payment keeps its pack's credit expiry.
describe("migrating packs to prices per currency", () => {
  it(`keeps every pack's price, state and order, and what open payments were sold (${testDb.driver})`, async () => {
    const handle = await databaseBefore("0013");
    const { db } = handle;
    const pack = async (slug: string, credits: number, price: number, currency: string, active: boolean) => {
      const [row] = rowsOf<{ id: string }>(
        await db.execute(sql`INSERT INTO credit_packages (slug, name, credits, price_minor, currency, active, credit_expiry_days)
                             VALUES (${slug}, ${slug}, ${credits}, ${price}, ${currency}, ${active}, ${slug === "yen" ? 30 : null})
                             RETURNING id`),
      );
      return row?.id ?? "";
    };
    const yen = await pack("yen", 500, 1_000, "jpy", true);
    const dinar = await pack("dinar", 50, 2_500, "kwd", true);
    const retired = await pack("retired", 10, 100, "usd", false);
    const [user] = rowsOf<{ id: string }>(
      await db.execute(sql`INSERT INTO users (email) VALUES (${`m-${randomUUID()}@example.test`}) RETURNING id`),
    );
    const payment = async (packageId: string, credited: boolean) => {
      const [row] = rowsOf<{ id: string }>(
        await db.execute(sql`INSERT INTO payments (user_id, package_id, credits, amount_minor, currency, provider, credited_at)
                             VALUES (${user?.id}, ${packageId}, 500, 1000, 'jpy', 'stripe', ${credited ? sql`now()` : null})
                             RETURNING id`),
      );
      return row?.id ?? "";
    };
    const open = await payment(yen, false);
    const done = await payment(yen, true);

    await handle.migrate();

    const catalogue = await createCatalogStore(db).listPackages({ onSaleOnly: false });
    expect(
      catalogue.map((p) => ({ slug: p.slug, prices: p.prices, position: p.position, archived: p.archivedAt !== null })),
    ).toEqual([
      { slug: "retired", prices: [{ currency: "usd", unitAmount: 100 }], position: 0, archived: true },
      { slug: "dinar", prices: [{ currency: "kwd", unitAmount: 2_500 }], position: 1, archived: false },
      { slug: "yen", prices: [{ currency: "jpy", unitAmount: 1_000 }], position: 2, archived: false },
    ]);
    expect(catalogue.map((p) => p.highlight)).toEqual([false, false, false]);
    expect(catalogue.find((p) => p.id === dinar)?.creditExpiryDays).toBeNull();
    expect(catalogue.find((p) => p.id === retired)?.archivedAt).toBeInstanceOf(Date);

    const expiry = rowsOf<{ id: string; credit_expiry_days: number | null }>(
      await db.execute(sql`SELECT id, credit_expiry_days FROM payments`),
    );
    expect(Object.fromEntries(expiry.map((r) => [r.id, r.credit_expiry_days]))).toEqual({ [open]: 30, [done]: null });

    // The old columns are gone: a price lives in one place.
    const columns = rowsOf<{ column_name: string }>(
      await db.execute(sql`SELECT column_name FROM information_schema.columns WHERE table_name = 'credit_packages'`),
    ).map((c) => c.column_name);
    expect(columns).not.toContain("price_minor");
    expect(columns).not.toContain("active");
  });
});
