import type { CatalogStore } from "../catalog.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import { MAX_LOW_BALANCE_THRESHOLD } from "../limits.ts";
import { type AutoTopUpCaps, type ChargeDeps, createAutoTopUpCharger } from "./charge.ts";
import type { AutoTopUpAttemptReason, AutoTopUpAttemptStatus, AutoTopUpStore } from "./store.ts";

// The user's side of auto top-up: opting in (threshold and pack), and what they see on /account.
// The worker's pass (charge.ts) is part of the same service.

export const MAX_AUTO_TOPUP_THRESHOLD = MAX_LOW_BALANCE_THRESHOLD;

export interface AutoTopUpChoice {
  enabled: boolean;
  threshold: number;
  packageId: string;
}

export interface AutoTopUpStatus {
  enabled: boolean;
  // null until the user has chosen.
  threshold: number | null;
  packageId: string | null;
  // A Checkout saved a card for off-session charges.
  cardSaved: boolean;
  consecutiveFailures: number;
  // Why the platform turned it off (failures in a row); null otherwise.
  disabledReason: string | null;
  caps: AutoTopUpCaps;
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

  async function status(userId: string): Promise<AutoTopUpStatus> {
    const [settings, last] = await Promise.all([store.settings(userId), store.lastAttempt(userId)]);
    return {
      enabled: settings?.enabled ?? false,
      threshold: settings?.threshold ?? null,
      packageId: settings?.packageId ?? null,
      cardSaved: settings?.paymentMethodId != null,
      consecutiveFailures: settings?.consecutiveFailures ?? 0,
      disabledReason: settings?.disabledReason ?? null,
      caps: deps.caps,
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
    // Only a pack on sale can be chosen (the charge uses its first price).
    if (!pack || pack.archivedAt || pack.prices.length === 0) throw new NotFoundError("package");
    if (!(await deps.payments.getBillingProfile(userId))) throw new NotFoundError("user");
    await store.saveSettings(userId, { enabled: choice.enabled, threshold, packageId: pack.id });
    return status(userId);
  }

  return { status, choose, runOnce: charger.runOnce };
}

export type AutoTopUpService = ReturnType<typeof createAutoTopUpService>;
