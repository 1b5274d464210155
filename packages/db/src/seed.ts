import { sql } from "drizzle-orm";
import type { Database } from "./client.ts";

export const defaultPackages = [
  { slug: "starter", name: "Starter", credits: 100, prices: [{ currency: "usd", unitAmount: 500 }] },
  { slug: "standard", name: "Standard", credits: 500, prices: [{ currency: "usd", unitAmount: 2_000 }] },
  { slug: "pro", name: "Pro", credits: 2_000, prices: [{ currency: "usd", unitAmount: 7_000 }] },
] as const;

// Creates the default credit packs on an empty catalogue only: once an operator has shaped the
// catalogue (even archived every pack), startup leaves it alone. One statement, so two instances
// starting at once seed once.
export async function seedDefaults(db: Database): Promise<void> {
  const packs = sql.join(
    defaultPackages.map((p, position) => sql`(${p.slug}, ${p.name}, ${p.credits}::bigint, ${position}::integer)`),
    sql`, `,
  );
  const prices = sql.join(
    defaultPackages.flatMap((p) =>
      p.prices.map(
        (price, order) => sql`(${p.slug}, ${price.currency}, ${price.unitAmount}::bigint, ${order}::smallint)`,
      ),
    ),
    sql`, `,
  );
  await db.execute(sql`
    WITH inserted AS (
      INSERT INTO credit_packages (slug, name, credits, position)
      SELECT * FROM (VALUES ${packs}) AS v(slug, name, credits, position)
       WHERE NOT EXISTS (SELECT 1 FROM credit_packages)
      ON CONFLICT (slug) DO NOTHING
      RETURNING id, slug
    )
    INSERT INTO credit_package_prices (package_id, currency, unit_amount, sort_order)
    SELECT inserted.id, v.currency, v.unit_amount, v.sort_order
      FROM (VALUES ${prices}) AS v(slug, currency, unit_amount, sort_order)
      JOIN inserted ON inserted.slug = v.slug`);
}
