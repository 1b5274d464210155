import { type CatalogStore, type CatalogTx, type CreditPackage, isUuid, type PackagePrice } from "@credits/core";
import { and, asc, eq, inArray, isNull, sql } from "drizzle-orm";
import type { Database } from "./client.ts";
import { translated, translatingErrors } from "./errors.ts";
import { adminActions, creditPackagePrices, creditPackages } from "./schema.ts";

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
};

type PackRow = Omit<CreditPackage, "prices">;

// Packs with their prices (in the admin's order): two queries, whatever the number of packs.
async function withPrices(db: Database, packs: PackRow[]): Promise<CreditPackage[]> {
  if (packs.length === 0) return [];
  const prices = await db
    .select({
      packageId: creditPackagePrices.packageId,
      currency: creditPackagePrices.currency,
      unitAmount: creditPackagePrices.unitAmount,
    })
    .from(creditPackagePrices)
    .where(
      inArray(
        creditPackagePrices.packageId,
        packs.map((p) => p.id),
      ),
    )
    .orderBy(asc(creditPackagePrices.sortOrder));
  const byPack = new Map<string, PackagePrice[]>();
  for (const { packageId, ...price } of prices) byPack.set(packageId, [...(byPack.get(packageId) ?? []), price]);
  return packs.map((p) => ({ ...p, prices: byPack.get(p.id) ?? [] }));
}

const onSaleOnly = and(isNull(creditPackages.archivedAt), eq(creditPackages.awaitingApproval, false));

async function listPackages(db: Database, onSale: boolean): Promise<CreditPackage[]> {
  return withPrices(
    db,
    await db
      .select(packColumns)
      .from(creditPackages)
      .where(onSale ? onSaleOnly : undefined)
      .orderBy(asc(creditPackages.position), asc(creditPackages.credits), asc(creditPackages.id)),
  );
}

async function findOne(db: Database, id: string): Promise<CreditPackage | null> {
  if (!isUuid(id)) return null;
  const rows = await db.select(packColumns).from(creditPackages).where(eq(creditPackages.id, id));
  return (await withPrices(db, rows))[0] ?? null;
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
      const rows = await db.select(packColumns).from(creditPackages).where(eq(creditPackages.id, id)).for("update");
      return (await withPrices(db, rows))[0] ?? null;
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
