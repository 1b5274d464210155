import type { DueExpiry, ExpiryNoticeStore } from "@credits/core";
import { sql } from "drizzle-orm";
import { type Database, rowsOf } from "./client.ts";
import { translated } from "./errors.ts";
import { createOutboxStore } from "./outbox-store.ts";
import { mails } from "./schema.ts";

// credits.expiring (drizzle/0024): due grants read FOR KEY SHARE, their notices inserted ON
// CONFLICT DO NOTHING; RETURNING names only the notices this statement wrote, so a grant another
// instance announced meanwhile (committed after this statement's snapshot, or waited for on the
// notice's key) is not announced twice. The notice's primary key is the "once", not the grant's
// lock: FOR UPDATE (and FOR NO KEY UPDATE, which the review proposed) conflicts with the FOR NO KEY
// UPDATE a spend takes on the grants it draws from (drizzle/0008), so a spend waited for the whole
// batch's transaction (events, mails). KEY SHARE only keeps the grant from being deleted meanwhile
// (the notice references it), and conflicts with nothing a posting takes.
export function createExpiryNoticeStore(db: Database): ExpiryNoticeStore {
  return {
    transaction: (work) =>
      translated(() =>
        db.transaction((tx) =>
          work({
            recordDue: (now, horizon, limit) => recordDue(tx, now, horizon, limit),
            outbox: createOutboxStore(tx),
            queueMail: async (notice) => {
              await tx
                .insert(mails)
                .values({
                  cause: `credits_expiring:${notice.grantId}`,
                  template: "credits_expiring",
                  userId: notice.userId,
                  data: { grantId: notice.grantId, credits: notice.amount, expiresAt: notice.expiresAt.toISOString() },
                })
                .onConflictDoNothing({ target: mails.cause });
            },
          }),
        ),
      ),
  };
}

async function recordDue(db: Database, now: Date, horizon: Date, limit: number): Promise<DueExpiry[]> {
  const result = await db.execute(sql`
    WITH due AS (
      SELECT g.id, g.user_id, g.remaining, g.expires_at
      FROM credit_grants g
      WHERE g.remaining > 0 AND g.expires_at IS NOT NULL
        AND g.expires_at > ${now.toISOString()}::timestamptz AND g.expires_at <= ${horizon.toISOString()}::timestamptz
        AND NOT EXISTS (SELECT 1 FROM grant_expiry_notices n WHERE n.grant_id = g.id)
      ORDER BY g.expires_at, g.id
      LIMIT ${limit}
      FOR KEY SHARE OF g SKIP LOCKED
    ), recorded AS (
      INSERT INTO grant_expiry_notices (grant_id, amount, expires_at)
      SELECT id, remaining, expires_at FROM due
      ON CONFLICT (grant_id) DO NOTHING
      RETURNING grant_id
    )
    SELECT due.id AS grant_id, due.user_id, due.remaining AS amount, due.expires_at
    FROM due JOIN recorded ON recorded.grant_id = due.id
    ORDER BY due.expires_at, due.id`);
  return rowsOf<{ grant_id: string; user_id: string; amount: string | number; expires_at: string | Date }>(result).map(
    (row) => ({
      grantId: row.grant_id,
      userId: row.user_id,
      amount: Number(row.amount),
      expiresAt: new Date(row.expires_at),
    }),
  );
}
