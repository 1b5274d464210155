import type { Clock } from "../clock.ts";
import { InvalidInputError, LimitExceededError } from "../errors.ts";
import { MAX_API_KEY_CALLS_PER_DAY, MAX_API_KEY_CREDITS_PER_DAY } from "../limits.ts";

// Optional limits an admin sets on a key when making it, per UTC day: credits moved and calls
// applied, separately for grants and for spends (holds count as spends). Null: no limit.
export interface ApiKeyLimits {
  grantCreditsPerDay: number | null;
  grantCallsPerDay: number | null;
  spendCreditsPerDay: number | null;
  spendCallsPerDay: number | null;
}

export type KeyOperation = "grant" | "spend";

export const NO_LIMITS: ApiKeyLimits = {
  grantCreditsPerDay: null,
  grantCallsPerDay: null,
  spendCreditsPerDay: null,
  spendCallsPerDay: null,
};

export function parseLimits(input: Partial<ApiKeyLimits> | null | undefined): ApiKeyLimits {
  const limits = { ...NO_LIMITS, ...input };
  for (const [name, value] of Object.entries(limits)) {
    if (value === null) continue;
    const max = name.endsWith("CreditsPerDay") ? MAX_API_KEY_CREDITS_PER_DAY : MAX_API_KEY_CALLS_PER_DAY;
    if (!Number.isSafeInteger(value) || value < 1 || value > max) {
      throw new InvalidInputError(`${name} must be a whole number from 1 to ${max}, or absent for no limit`);
    }
  }
  return limits;
}

export function limitOf(
  limits: ApiKeyLimits,
  operation: KeyOperation,
): { credits: number | null; calls: number | null } {
  return operation === "grant"
    ? { credits: limits.grantCreditsPerDay, calls: limits.grantCallsPerDay }
    : { credits: limits.spendCreditsPerDay, calls: limits.spendCallsPerDay };
}

export const hasLimit = (limits: ApiKeyLimits, operation: KeyOperation): boolean => {
  const limit = limitOf(limits, operation);
  return limit.credits !== null || limit.calls !== null;
};

export interface KeyUsage {
  apiKeyId: string;
  // The UTC day, YYYY-MM-DD.
  day: string;
  operation: KeyOperation;
  credits: number;
}

// Counts a key's use per day. `count` adds one call and `credits` in one conditional statement
// (an upsert whose update applies only within the limits), so concurrent requests on any number
// of instances cannot overshoot together; false when the use would exceed a limit.
export interface ApiKeyUsageStore {
  count(usage: KeyUsage, limit: { credits: number | null; calls: number | null }): Promise<boolean>;
  // Takes back a counted use whose operation was then refused (or not applied).
  uncount(usage: KeyUsage): Promise<void>;
}

export const utcDay = (now: Date): string => now.toISOString().slice(0, 10);

// Counts `credits` against the key's limit for the operation, or throws LimitExceededError. The
// returned usage is what to uncount if the operation is then not applied; null when the key has
// no limit for it (nothing counted, nothing written).
export async function countUse(
  store: ApiKeyUsageStore,
  clock: Clock,
  key: { id: string; limits: ApiKeyLimits },
  operation: KeyOperation,
  credits: number,
): Promise<KeyUsage | null> {
  if (!hasLimit(key.limits, operation)) return null;
  const now = clock.now();
  const usage = { apiKeyId: key.id, day: utcDay(now), operation, credits };
  if (await store.count(usage, limitOf(key.limits, operation))) return usage;
  const nextDay = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  throw new LimitExceededError(
    `this API key's daily ${operation} limit is used up until 00:00 UTC`,
    Math.max(1, Math.ceil((nextDay - now.getTime()) / 1000)),
  );
}
