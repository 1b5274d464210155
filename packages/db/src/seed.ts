import { sql } from "drizzle-orm";
import type { Database } from "./client.ts";

export const defaultPackages = [
  { slug: "starter", name: "Starter", credits: 100, priceMinor: 500, currency: "usd" },
  { slug: "standard", name: "Standard", credits: 500, priceMinor: 2_000, currency: "usd" },
  { slug: "pro", name: "Pro", credits: 2_000, priceMinor: 7_000, currency: "usd" },
] as const;

// Creates the default credit packs on an empty catalogue only: once an operator has shaped the
// catalogue (even emptied it of active packs), startup leaves it alone.
export async function seedDefaults(db: Database): Promise<void> {
  const values = sql.join(
    defaultPackages.map(
      (p) => sql`(${p.slug}, ${p.name}, ${p.credits}::bigint, ${p.priceMinor}::bigint, ${p.currency})`,
    ),
    sql`, `,
  );
  await db.execute(sql`
    INSERT INTO credit_packages (slug, name, credits, price_minor, currency)
    SELECT * FROM (VALUES ${values}) AS v(slug, name, credits, price_minor, currency)
     WHERE NOT EXISTS (SELECT 1 FROM credit_packages)
    ON CONFLICT (slug) DO NOTHING`);
}
