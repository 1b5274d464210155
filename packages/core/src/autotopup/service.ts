import type { CatalogStore, CreditPackage, PackagePrice } from "../catalog.ts";
import { onSale } from "../catalog-pricing.ts";
import { priceOf } from "../catalog-service.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import { MAX_LOW_BALANCE_THRESHOLD } from "../limits.ts";
import { createCardRemoval } from "./card-removal.ts";
import { type AutoTopUpCaps, type ChargeDeps, capOf, createAutoTopUpCharger } from "./charge.ts";
import type { AutoTopUpAttemptReason, AutoTopUpAttemptStatus, AutoTopUpSettings, AutoTopUpStore } from "./store.ts";

// The user's side of auto top-up: opting in (threshold and pack), and what they see on /account.
// The worker's pass (charge.ts) is part of the same service.

export const MAX_AUTO_TOPUP_THRESHOLD = MAX_LOW_BALANCE_THRESHOLD;

export interface AutoTopUpChoice {
  enabled: boolean;
  threshold: number;
  packageId: string;
  // One of the pack's prices (lowercase ISO 4217). Omitted: the currency already chosen for this
  // pack, else the pack's default price.
  currency?: string | undefined;
}

export interface AutoTopUpStatus {
  enabled: boolean;
  // null until the user has chosen.
  threshold: number | null;
  packageId: string | null;
  // The currency the pack is bought in; null until chosen.
  currency: string | null;
  // What a top-up charges: the pack's price in that currency; null until chosen, or when the pack
  // was archived or no longer sells in it (a top-up is then skipped, price_unavailable).
  price: PackagePrice | null;
  // A Checkout saved a card for off-session charges.
  cardSaved: boolean;
  consecutiveFailures: number;
  // Why the platform turned it off (failures in a row); null otherwise.
  disabledReason: string | null;
  caps: {
    perDay: number;
    perMonth: number;
    // The amount caps in the chosen currency (minor units); null until chosen, 0 when that
    // currency has none (no top-up in it).
    amountPerDayMinor: number | null;
    amountPerMonthMinor: number | null;
  };
  lastAttempt: {
    status: AutoTopUpAttemptStatus;
    reason: AutoTopUpAttemptReason | null;
    paymentId: string | null;
    createdAt: Date;
  } | null;
}

export function createAutoTopUpService(
  deps: Omit<ChargeDeps, "claimDue"> & { store: AutoTopUpStore; catalog: CatalogStore },
) {
  const { store } = deps;
  const charger = createAutoTopUpCharger({ ...deps, claimDue: store.claimDue });
  const cardRemoval = createCardRemoval(deps);

  async function status(userId: string): Promise<AutoTopUpStatus> {
    const [settings, last] = await Promise.all([store.settings(userId), store.lastAttempt(userId)]);
    return {
      enabled: settings?.enabled ?? false,
      threshold: settings?.threshold ?? null,
      packageId: settings?.packageId ?? null,
      currency: settings?.currency ?? null,
      price: settings ? await currentPrice(settings) : null,
      cardSaved: settings?.paymentMethodId != null,
      consecutiveFailures: settings?.consecutiveFailures ?? 0,
      disabledReason: settings?.disabledReason ?? null,
      caps: capsIn(deps.caps, settings?.currency ?? null),
      lastAttempt: last
        ? { status: last.status, reason: last.reason, paymentId: last.paymentId, createdAt: last.createdAt }
        : null,
    };
  }

  async function choose(userId: string, choice: AutoTopUpChoice): Promise<AutoTopUpStatus> {
    const { threshold } = choice;
    if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > MAX_AUTO_TOPUP_THRESHOLD) {
      throw new InvalidInputError(
        `the threshold must be a whole number of credits from 1 to ${MAX_AUTO_TOPUP_THRESHOLD}`,
      );
    }
    const pack = await deps.catalog.findPackage(choice.packageId);
    // Only a pack on sale can be chosen.
    if (!pack || !onSale(pack) || pack.prices.length === 0) throw new NotFoundError("package");
    if (!(await deps.payments.getBillingProfile(userId))) throw new NotFoundError("user");
    const price = priceOf(pack, choice.currency ?? (await keptCurrency(userId, pack)));
    const { currency } = price;
    if (choice.enabled) assertWithinCaps(price, deps.caps);
    await store.saveSettings(userId, { enabled: choice.enabled, threshold, packageId: pack.id, currency });
    return status(userId);
  }

  // A PUT that does not name a currency (an older client changing the threshold) keeps the one
  // chosen for this pack while the pack still sells in it; otherwise the pack's default price.
  async function keptCurrency(userId: string, pack: CreditPackage): Promise<string | null> {
    const settings = await store.settings(userId);
    const kept = settings?.packageId === pack.id ? settings.currency : null;
    return pack.prices.some((p) => p.currency === kept) ? kept : null;
  }

  async function currentPrice(settings: AutoTopUpSettings): Promise<PackagePrice | null> {
    const pack = await deps.catalog.findPackage(settings.packageId);
    return (pack && onSale(pack) && pack.prices.find((p) => p.currency === settings.currency)) || null;
  }

  // Turns auto top-up off and forgets the saved card, detached at the provider (card-removal.ts).
  async function removeCard(userId: string, requestId: string | null): Promise<AutoTopUpStatus> {
    await cardRemoval.removeByUser(userId, requestId);
    return status(userId);
  }

  // A worker pass: the cards a dispute forgot are detached at the provider, then due attempts
  // charged; an error of the first is reported after the second ran.
  async function runOnce(): Promise<{ claimed: number }> {
    const detachFailure = await cardRemoval.detachForgottenCards().then(
      () => null,
      (error: unknown) => ({ error }),
    );
    const result = await charger.runOnce();
    if (detachFailure) throw detachFailure.error;
    return result;
  }

  return { status, choose, removeCard, runOnce };
}

// Turning it on for a price no top-up can charge (its currency has no amount cap configured, or
// the price alone is past one) would skip every crossing with cap_reached: refused when chosen
// instead. Turning it off is always allowed.
function assertWithinCaps(price: PackagePrice, caps: AutoTopUpCaps): void {
  const code = price.currency.toUpperCase();
  const perDay = capOf(caps.amountPerDayMinor, price.currency);
  const perMonth = capOf(caps.amountPerMonthMinor, price.currency);
  if (perDay === 0 || perMonth === 0) {
    throw new InvalidInputError(`auto top-up is not available in ${code}: choose another currency or pack`);
  }
  if (price.unitAmount > perDay || price.unitAmount > perMonth) {
    const limit = price.unitAmount > perDay ? `${perDay} a day` : `${perMonth} a month`;
    throw new InvalidInputError(
      `this pack's price (${price.unitAmount} ${code} minor units) is above the auto top-up limit of ${limit}: choose a smaller pack`,
    );
  }
}

function capsIn(caps: AutoTopUpCaps, currency: string | null): AutoTopUpStatus["caps"] {
  const amount = (perCurrency: AutoTopUpCaps["amountPerDayMinor"]) => (currency ? capOf(perCurrency, currency) : null);
  return {
    perDay: caps.perDay,
    perMonth: caps.perMonth,
    amountPerDayMinor: amount(caps.amountPerDayMinor),
    amountPerMonthMinor: amount(caps.amountPerMonthMinor),
  };
}

export type AutoTopUpService = ReturnType<typeof createAutoTopUpService>;
