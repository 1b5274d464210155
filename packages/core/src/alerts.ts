import { InvalidInputError, NotFoundError } from "./errors.ts";
import { MAX_LOW_BALANCE_THRESHOLD } from "./limits.ts";

// Low-balance alerts. The crossing itself is decided where the balance changes, in the posting
// transaction under the user's row lock (the ledger trigger of migration 0010, ADR 011): the
// one ledger row that takes the balance from at or above the threshold to below it raises one
// alert (outbox event credits.low_balance and a mail); reaching zero raises credits.depleted.
// Here: who has which threshold.

export interface LowBalanceSetting {
  // false: the user turned alerts off.
  enabled: boolean;
  // The user's own threshold; null: the instance default.
  threshold: number | null;
  defaultThreshold: number;
}

export interface AlertStore {
  lowBalance(userId: string): Promise<LowBalanceSetting | null>;
  // null turns alerts off.
  setLowBalance(userId: string, threshold: number | null): Promise<boolean>;
  // Every instance writes its LOW_BALANCE_THRESHOLD_DEFAULT at start (the last one wins).
  setDefaultThreshold(threshold: number): Promise<void>;
}

export interface LowBalanceAlerts {
  // The threshold in force (null: off) and whether it is the instance default.
  lowBalanceThreshold: number | null;
  isDefault: boolean;
}

export function createAlertService({ store }: { store: AlertStore }) {
  async function lowBalance(userId: string): Promise<LowBalanceAlerts> {
    const setting = await store.lowBalance(userId);
    if (!setting) throw new NotFoundError("user");
    return effective(setting);
  }

  async function setLowBalance(userId: string, threshold: number | null): Promise<LowBalanceAlerts> {
    assertThreshold(threshold);
    if (!(await store.setLowBalance(userId, threshold))) throw new NotFoundError("user");
    return lowBalance(userId);
  }

  async function setDefaultThreshold(threshold: number): Promise<void> {
    assertThreshold(threshold);
    await store.setDefaultThreshold(threshold);
  }

  return { lowBalance, setLowBalance, setDefaultThreshold };
}

export type AlertService = ReturnType<typeof createAlertService>;

function effective(setting: LowBalanceSetting): LowBalanceAlerts {
  if (!setting.enabled) return { lowBalanceThreshold: null, isDefault: false };
  if (setting.threshold === null) return { lowBalanceThreshold: setting.defaultThreshold, isDefault: true };
  return { lowBalanceThreshold: setting.threshold, isDefault: false };
}

function assertThreshold(threshold: number | null): void {
  if (threshold === null) return;
  if (!Number.isSafeInteger(threshold) || threshold < 0 || threshold > MAX_LOW_BALANCE_THRESHOLD) {
    throw new InvalidInputError(
      `the threshold must be a whole number of credits from 0 to ${MAX_LOW_BALANCE_THRESHOLD}`,
    );
  }
}
