import type { CatalogStore } from "@credits/core";
import { asc, eq } from "drizzle-orm";
import type { Database } from "./client.ts";
import { translatingErrors } from "./errors.ts";
import { creditPackages } from "./schema.ts";

const publicColumns = {
  id: creditPackages.id,
  slug: creditPackages.slug,
  name: creditPackages.name,
  credits: creditPackages.credits,
  priceMinor: creditPackages.priceMinor,
  currency: creditPackages.currency,
  creditExpiryDays: creditPackages.creditExpiryDays,
};

export function createCatalogStore(db: Database): CatalogStore {
  return translatingErrors({
    listActivePackages: () =>
      db
        .select(publicColumns)
        .from(creditPackages)
        .where(eq(creditPackages.active, true))
        .orderBy(asc(creditPackages.credits)),
    findPackage: async (id) => {
      const [row] = await db
        .select({ ...publicColumns, active: creditPackages.active })
        .from(creditPackages)
        .where(eq(creditPackages.id, id));
      return row ?? null;
    },
  });
}
