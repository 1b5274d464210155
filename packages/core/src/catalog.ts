export interface CreditPackage {
  id: string;
  slug: string;
  name: string;
  credits: number;
  priceMinor: number;
  currency: string;
}

export interface CatalogStore {
  listActivePackages(): Promise<CreditPackage[]>;
  findPackage(id: string): Promise<(CreditPackage & { active: boolean }) | null>;
}
