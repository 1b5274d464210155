import ipaddr from "ipaddr.js";
import { type Clock, systemClock } from "../clock.ts";
import { InvalidInputError, RateLimitedError, UnauthenticatedError } from "../errors.ts";
import type { RateLimitStore } from "./ports.ts";

export interface RateLimitResult {
  // The policy: `limit` hits per window of `windowMs`.
  limit: number;
  windowMs: number;
  // Hits left in the current window after this one.
  remaining: number;
  resetAt: Date;
  // Whole seconds until the window ends, by the limiter's clock (at least 1).
  resetSeconds: number;
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;

// Fixed-window counters kept in the database, so every server instance counts against the same
// budget. One atomic upsert per hit: no read-then-write race between instances. The store keeps
// only a keyed hash of each key (it may hold an email or an address).
export function createRateLimiter({
  store,
  clock = systemClock,
  limit,
  windowMs,
}: {
  store: RateLimitStore;
  clock?: Clock;
  limit: number;
  windowMs: number;
}) {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new InvalidInputError("limit must be a positive integer");
  if (!Number.isSafeInteger(windowMs) || windowMs < 1) {
    throw new InvalidInputError("windowMs must be a positive integer");
  }

  // Counts the hit even when it is refused, so hammering a limited key does not open it sooner
  // (the window is fixed: it still ends on time).
  async function consume(key: string): Promise<RateLimitResult> {
    if (key.length === 0) throw new InvalidInputError("a rate limit key is required");
    const now = clock.now();
    const { count, expiresAt } = await store.hit(key, now, new Date(now.getTime() + windowMs));
    const resetSeconds = Math.max(1, Math.ceil((expiresAt.getTime() - now.getTime()) / 1000));
    if (count > limit) throw new RateLimitedError(resetSeconds, { limit, windowMs });
    return { limit, windowMs, remaining: limit - count, resetAt: expiresAt, resetSeconds };
  }

  // Takes back a hit that turned out not to count (a log-in that succeeded), if its window is
  // still the current one.
  async function refund(key: string, hit: RateLimitResult): Promise<void> {
    await store.refund(key, hit.resetAt);
  }

  return { consume, refund, limit, windowMs };
}

// Failed log-ins are counted over this window, per (email, address) and per email.
export const FAILED_LOGIN_WINDOW_MS = 15 * 60_000;

export interface AuthThrottleLimits {
  // Log-in and sign-up attempts per client address per minute, whatever their outcome.
  attemptsPerMinute: number;
  // Failed log-ins per (email, client address) per FAILED_LOGIN_WINDOW_MS.
  failedPerAddress: number;
  // Failed log-ins per email from all addresses together per FAILED_LOGIN_WINDOW_MS: the ceiling
  // against guessing one account's password from many addresses.
  failedPerEmail: number;
}

export type AuthThrottle = ReturnType<typeof createAuthThrottle>;

// The log-in and sign-up limits. The per-address budget is checked first, so a refused address
// writes one row and nothing per email. Failures are counted per (email, address) and, higher, per
// email: someone who knows an email and fails from their own addresses does not lock its owner
// out of an address with no failures until the per-email ceiling, which takes
// failedPerEmail / failedPerAddress addresses to reach.
export function createAuthThrottle({
  store,
  clock = systemClock,
  limits,
}: {
  store: RateLimitStore;
  clock?: Clock;
  limits: AuthThrottleLimits;
}) {
  if (limits.failedPerEmail < limits.failedPerAddress) {
    throw new InvalidInputError("the per-email failure ceiling must be at least the per-address one");
  }
  const attempts = createRateLimiter({ store, clock, limit: limits.attemptsPerMinute, windowMs: 60_000 });
  const perPair = createRateLimiter({ store, clock, limit: limits.failedPerAddress, windowMs: FAILED_LOGIN_WINDOW_MS });
  const perEmail = createRateLimiter({ store, clock, limit: limits.failedPerEmail, windowMs: FAILED_LOGIN_WINDOW_MS });

  return {
    // The per-address attempts hit is returned (sign-up) or handed to `onAttempt` (log-in): the
    // API advertises that policy. The failure counters are not advertised: they would tell a
    // guesser how many tries an account has left.
    signUp: (address: string): Promise<RateLimitResult> => attempts.consume(`auth:${addressBucket(address)}`),
    // Runs `attempt` (the password check) within the limits. The failure counters are taken
    // before it runs, so concurrent wrong guesses cannot all slip past a check made before any of
    // them is counted, and handed back when the password was right.
    logIn: async <T>(
      email: string,
      address: string,
      attempt: () => Promise<T>,
      onAttempt: (hit: RateLimitResult) => void = () => {},
    ): Promise<T> => {
      const bucket = addressBucket(address);
      const account = email.trim().toLowerCase();
      onAttempt(await attempts.consume(`auth:${bucket}`));
      const pairKey = `login-failed:${account}|${bucket}`;
      const pair = await perPair.consume(pairKey);
      const emailKey = `login-failed:${account}`;
      // Refused by the ceiling, the password was not even tried: not a failure of this address.
      const ceiling = await perEmail.consume(emailKey).catch(async (error: unknown) => {
        await perPair.refund(pairKey, pair);
        throw error;
      });
      try {
        const result = await attempt();
        await Promise.all([perPair.refund(pairKey, pair), perEmail.refund(emailKey, ceiling)]);
        return result;
      } catch (error) {
        // Only a wrong password is a failure; anything else (a busy hasher, the database) is not
        // the user's doing and gives the attempt back.
        if (!(error instanceof UnauthenticatedError)) {
          await Promise.all([perPair.refund(pairKey, pair), perEmail.refund(emailKey, ceiling)]);
        }
        throw error;
      }
    },
    // Deletes ended windows in batches of `batch` rows (short statements, few locks held), up to
    // `maxBatches` a call; returns how many it deleted.
    purgeExpired: async (batch = 5_000, maxBatches = 20): Promise<number> => {
      let deleted = 0;
      for (let round = 0; round < maxBatches; round++) {
        const count = await store.purgeExpired(clock.now(), batch);
        deleted += count;
        if (count < batch) break;
      }
      return deleted;
    },
  };
}

// The unit an address is limited by. An IPv6 host usually holds a whole /64, and would otherwise
// get a fresh budget (and a fresh row) for each of its 2^64 addresses; an IPv4-mapped IPv6
// address is its IPv4 address.
export function addressBucket(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === "ipv4") return parsed.toString();
  return `${ipaddr.IPv6.networkAddressFromCIDR(`${parsed.toString()}/64`).toString()}/64`;
}
