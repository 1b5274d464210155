import type { CreditPackage, PackagePrice } from "./catalog.ts";

// The two-person rule on the catalogue's prices (ADR 015, review 9 F3): a pack is credits sold for
// money, so one admin pricing a pack of 1,000,000 credits at 50 cents minted credits around the
// approval rule an adjustment of that size would need. A price that sells credits cheaper than
// every pack on sale in its currency (or in a currency no pack on sale is priced in) sets a new
// floor: a second admin approves it. At or above the cheapest price on sale, one admin prices
// alone; the floor only moves down with two.

// Whether `a` sells a credit for less than `b` (integer cross-multiplication: no rounding).
const cheaper = (a: { unitAmount: number; credits: number }, b: { unitAmount: number; credits: number }) =>
  BigInt(a.unitAmount) * BigInt(b.credits) < BigInt(b.unitAmount) * BigInt(a.credits);

// The currencies in which `terms` would undercut every pack on sale other than `selfId`.
export function undercutCurrencies(
  terms: { credits: number; prices: readonly PackagePrice[] },
  onSale: readonly CreditPackage[],
  selfId: string | null = null,
): string[] {
  return terms.prices
    .filter(({ currency, unitAmount }) => {
      const rivals = onSale
        .filter((pack) => pack.id !== selfId)
        .flatMap((pack) =>
          pack.prices
            .filter((p) => p.currency === currency)
            .map((p) => ({ unitAmount: p.unitAmount, credits: pack.credits })),
        );
      return rivals.every((rival) => cheaper({ unitAmount, credits: terms.credits }, rival));
    })
    .map(({ currency }) => currency);
}

// A pack is sold when it is neither archived nor waiting for a second admin.
export const onSale = (pack: Pick<CreditPackage, "archivedAt" | "awaitingApproval">) =>
  pack.archivedAt === null && !pack.awaitingApproval;
