import { type CatalogStore, type CatalogTx, type CreditPackage, isUuid, type PackagePrice } from "@credits/core";
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import type { Database } from "./client.ts";
import { translated, translatingErrors } from "./errors.ts";
import { adminActions, creditPackagePrices, creditPackages } from "./schema.ts";

// A pack with its prices (in the admin's order) in one statement, so one snapshot: read in two, an
// edit committed between them gave a pack's old credits with its new prices, to a checkout (a
// payment of 1,000,000 credits at the price of 100) and to the price floor's check (review 12).
const packColumns = {
  id: creditPackages.id,
  slug: creditPackages.slug,
  name: creditPackages.name,
  credits: creditPackages.credits,
  creditExpiryDays: creditPackages.creditExpiryDays,
  position: creditPackages.position,
  highlight: creditPackages.highlight,
  archivedAt: creditPackages.archivedAt,
  awaitingApproval: creditPackages.awaitingApproval,
  createdBy: creditPackages.createdBy,
  createdAt: creditPackages.createdAt,
  updatedAt: creditPackages.updatedAt,
  prices: sql<PackagePrice[]>`coalesce((
    SELECT json_agg(json_build_object('currency', p.currency, 'unitAmount', p.unit_amount) ORDER BY p.sort_order)
      FROM credit_package_prices p WHERE p.package_id = ${creditPackages.id}), '[]'::json)`.as("prices"),
};

const onSaleOnly = and(isNull(creditPackages.archivedAt), eq(creditPackages.awaitingApproval, false));

const listPackages = (db: Database, onSale: boolean): Promise<CreditPackage[]> =>
  db
    .select(packColumns)
    .from(creditPackages)
    .where(onSale ? onSaleOnly : undefined)
    .orderBy(asc(creditPackages.position), asc(creditPackages.credits), asc(creditPackages.id));

async function findOne(db: Database, id: string): Promise<CreditPackage | null> {
  if (!isUuid(id)) return null;
  const [row] = await db.select(packColumns).from(creditPackages).where(eq(creditPackages.id, id));
  return row ?? null;
}

async function replacePrices(db: Database, packageId: string, prices: PackagePrice[]): Promise<void> {
  await db.delete(creditPackagePrices).where(eq(creditPackagePrices.packageId, packageId));
  await db
    .insert(creditPackagePrices)
    .values(prices.map((p, sortOrder) => ({ packageId, currency: p.currency, unitAmount: p.unitAmount, sortOrder })));
}

function createCatalogTx(db: Database): CatalogTx {
  const one = (id: string) => findOne(db, id);
  return {
    lockPackage: async (id) => {
      const [row] = await db.select(packColumns).from(creditPackages).where(eq(creditPackages.id, id)).for("update");
      return row ?? null;
    },

    insertPackage: async ({ prices, ...pack }) => {
      const [row] = await db
        .insert(creditPackages)
        .values(pack)
        .onConflictDoNothing({ target: [creditPackages.createdBy, creditPackages.idempotencyKey] })
        .returning({ id: creditPackages.id });
      if (!row) return null;
      await replacePrices(db, row.id, prices);
      return one(row.id);
    },

    findPackageByKey: async (createdBy, idempotencyKey) => {
      const [row] = await db
        .select({ id: creditPackages.id })
        .from(creditPackages)
        .where(and(eq(creditPackages.createdBy, createdBy), eq(creditPackages.idempotencyKey, idempotencyKey)));
      return row ? one(row.id) : null;
    },

    updatePackage: async (id, { prices, ...fields }) => {
      await db
        .update(creditPackages)
        .set({ ...fields, updatedAt: sql`now()` })
        .where(eq(creditPackages.id, id));
      if (prices) await replacePrices(db, id, prices);
      const pack = await one(id);
      if (!pack) throw new Error(`package ${id} not found`);
      return pack;
    },

    listOnSale: () => listPackages(db, true),

    audit: async (action) => {
      await db.insert(adminActions).values(action);
    },
  };
}

export function createCatalogStore(db: Database): CatalogStore {
  return translatingErrors({
    listPackages: ({ onSaleOnly: onSale }) => listPackages(db, onSale),
    findPackage: (id) => findOne(db, id),
    transaction: (work) => translated(() => db.transaction((tx) => work(translatingErrors(createCatalogTx(tx))))),
  });
}
