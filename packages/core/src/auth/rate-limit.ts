import { sha256 } from "@oslojs/crypto/sha2";
import { encodeHexLowerCase } from "@oslojs/encoding";
import { type Clock, systemClock } from "../clock.ts";
import { InvalidInputError, RateLimitedError } from "../errors.ts";
import type { RateLimitStore } from "./ports.ts";

// Keys often carry user input (an email, an IP); a long one is stored by its hash so the table's
// primary key stays small whatever a client sends.
const MAX_STORED_KEY_LENGTH = 128;

export interface RateLimitResult {
  // Hits left in the current window after this one.
  remaining: number;
  resetAt: Date;
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;

// Fixed-window counters kept in the database, so every server instance counts against the same
// budget. One atomic upsert per hit: no read-then-write race between instances.
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
    const { count, windowStart } = await store.hit(storedKey(key), now, new Date(now.getTime() - windowMs));
    const resetAt = new Date(windowStart.getTime() + windowMs);
    if (count > limit) {
      throw new RateLimitedError(Math.max(1, Math.ceil((resetAt.getTime() - now.getTime()) / 1000)));
    }
    return { remaining: limit - count, resetAt };
  }

  return { consume, limit, windowMs };
}

function storedKey(key: string): string {
  if (key.length <= MAX_STORED_KEY_LENGTH) return key;
  return `sha256:${encodeHexLowerCase(sha256(new TextEncoder().encode(key)))}`;
}
