import { createHmac } from "node:crypto";
import type { RateLimitStore } from "@credits/core";
import { and, eq, gt, inArray, lte, sql } from "drizzle-orm";
import { type Database, rowsOf } from "./client.ts";
import { translatingErrors } from "./errors.ts";
import { rateLimitSecret, rateLimits } from "./schema.ts";

const timestamp = (value: Date) => sql`${value.toISOString()}::timestamptz`;

// Rate-limit keys name what they limit: an email, a client address. Only their HMAC-SHA256 under
// the database's own secret (rate_limit_secret, made by migration 0004) is stored, so the table
// never holds an email or an address, an erased email cannot come back into it in readable form,
// and every instance on the database computes the same key with no configuration.
export function createRateLimitStore(db: Database): RateLimitStore {
  let secret: Promise<string> | undefined;
  const loadSecret = async () => {
    const [row] = await db.select({ secret: rateLimitSecret.secret }).from(rateLimitSecret);
    if (!row) throw new Error("rate_limit_secret is empty: migration 0004 has not run");
    return row.secret;
  };
  async function storedKey(key: string): Promise<string> {
    // Read once per process; a failed read (the database down) is tried again on the next hit.
    secret ??= loadSecret().catch((error: unknown) => {
      secret = undefined;
      throw error;
    });
    return createHmac("sha256", await secret)
      .update(key)
      .digest("hex");
  }

  return translatingErrors({
    // One statement, so concurrent hits from any number of instances serialize on the row lock and
    // each sees the count the previous one left. LEAST keeps a flood from overflowing the integer.
    hit: async (key, now, expiresAt) => {
      const result = await db.execute(sql`
        INSERT INTO ${rateLimits} (key, window_start, count, expires_at)
        VALUES (${await storedKey(key)}, ${timestamp(now)}, 1, ${timestamp(expiresAt)})
        ON CONFLICT (key) DO UPDATE SET
          window_start = CASE WHEN ${rateLimits.expiresAt} <= ${timestamp(now)}
                              THEN excluded.window_start ELSE ${rateLimits.windowStart} END,
          count = CASE WHEN ${rateLimits.expiresAt} <= ${timestamp(now)}
                       THEN 1 ELSE least(${rateLimits.count}, 2147483646) + 1 END,
          expires_at = CASE WHEN ${rateLimits.expiresAt} <= ${timestamp(now)}
                            THEN excluded.expires_at ELSE ${rateLimits.expiresAt} END
        RETURNING count, expires_at`);
      const [row] = rowsOf<{ count: number | string; expires_at: Date | string }>(result);
      if (!row) throw new Error("rate limit upsert returned no row");
      return { count: Number(row.count), expiresAt: new Date(row.expires_at) };
    },
    refund: async (key, expiresAt) => {
      await db
        .update(rateLimits)
        .set({ count: sql`${rateLimits.count} - 1` })
        .where(
          and(eq(rateLimits.key, await storedKey(key)), eq(rateLimits.expiresAt, expiresAt), gt(rateLimits.count, 0)),
        );
    },
    // Bounded, so one purge never holds many row locks or runs long; the index on expires_at
    // finds the ended windows without a scan.
    purgeExpired: async (now, limit) => {
      const ended = db
        .select({ key: rateLimits.key })
        .from(rateLimits)
        .where(lte(rateLimits.expiresAt, now))
        .limit(limit);
      const deleted = await db
        .delete(rateLimits)
        .where(and(inArray(rateLimits.key, ended), lte(rateLimits.expiresAt, now)))
        .returning({ key: rateLimits.key });
      return deleted.length;
    },
  });
}
