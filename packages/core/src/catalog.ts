export interface CreditPackage {
  id: string;
  slug: string;
  name: string;
  credits: number;
  priceMinor: number;
  currency: string;
  // The credits a purchase of this pack grants expire this many days after payment; null: never.
  creditExpiryDays: number | null;
}

export interface CatalogStore {
  listActivePackages(): Promise<CreditPackage[]>;
  findPackage(id: string): Promise<(CreditPackage & { active: boolean }) | null>;
}
