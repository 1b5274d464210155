import type { NewAdminAction } from "./admin/store.ts";

// One price of a pack: integer minor units of a lowercase ISO 4217 currency (money.ts).
export interface PackagePrice {
  currency: string;
  unitAmount: number;
}

export interface CreditPackage {
  id: string;
  slug: string;
  name: string;
  credits: number;
  // One per currency, in the order the admin gave them: the first is the pack's default price.
  prices: PackagePrice[];
  // The credits a purchase of this pack grants expire this many days after payment; null: never.
  creditExpiryDays: number | null;
  // Display order, lowest first; ties by credits.
  position: number;
  // Shown as the "best value" pack.
  highlight: boolean;
  // Archived packs are no longer sold; payments already started on them still complete.
  archivedAt: Date | null;
  // Priced below every pack on sale (catalog-pricing.ts): not sold until a second admin approves.
  awaitingApproval: boolean;
  // The admin who created it (null: seeded); they cannot approve it.
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
}

// What an admin sets on a pack (all of it on creation, any of it on an edit).
export interface PackageFields {
  name: string;
  credits: number;
  prices: PackagePrice[];
  creditExpiryDays: number | null;
  position: number;
  highlight: boolean;
}

export interface CatalogTx {
  // Row-locked for the rest of the transaction.
  lockPackage(id: string): Promise<CreditPackage | null>;
  // Null when the creator's key is taken (a retried create).
  insertPackage(
    pack: PackageFields & {
      slug: string;
      createdBy: string | null;
      idempotencyKey: string | null;
      awaitingApproval: boolean;
    },
  ): Promise<CreditPackage | null>;
  findPackageByKey(createdBy: string, idempotencyKey: string): Promise<CreditPackage | null>;
  // Replaces the given fields (prices: the whole set).
  updatePackage(
    id: string,
    patch: Partial<PackageFields> & { archivedAt?: Date; awaitingApproval?: false },
  ): Promise<CreditPackage>;
  // The packs on sale (neither archived nor awaiting approval), read in this transaction.
  listOnSale(): Promise<CreditPackage[]>;
  audit(action: NewAdminAction): Promise<void>;
}

export interface CatalogStore {
  // `onSaleOnly`: neither archived nor awaiting approval; otherwise every pack.
  listPackages(query: { onSaleOnly: boolean }): Promise<CreditPackage[]>;
  findPackage(id: string): Promise<CreditPackage | null>;
  transaction<T>(work: (tx: CatalogTx) => Promise<T>): Promise<T>;
}
