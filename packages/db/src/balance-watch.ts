import { sql } from "drizzle-orm";
import { type Database, rowsOf } from "./client.ts";

export interface LatestPosting {
  userId: string;
  seq: number;
  balance: number;
  transactionId: string;
}

// Users one statement asks about: a bounded parameter, whatever the number of open pages.
const CHUNK = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// The newest ledger row of each of `userIds` (none for a user without one): a backward step of
// the (user_id, seq) index per user, so the cost follows the users watched, never the postings.
// What the live balance reads (ADR 020) instead of a NOTIFY in every posting.
export async function latestPostings(db: Database, userIds: readonly string[]): Promise<LatestPosting[]> {
  const ids = userIds.filter((id) => UUID.test(id));
  const found: LatestPosting[] = [];
  for (let start = 0; start < ids.length; start += CHUNK) {
    const chunk = ids.slice(start, start + CHUNK).join(",");
    const result = await db.execute(sql`
      SELECT w.user_id, t.seq, t.balance_after, t.id
        FROM unnest(string_to_array(${chunk}, ',')::uuid[]) AS w(user_id)
       CROSS JOIN LATERAL (
         SELECT c.seq, c.balance_after, c.id FROM credit_transactions c
          WHERE c.user_id = w.user_id ORDER BY c.seq DESC LIMIT 1) t`);
    for (const row of rowsOf<{ user_id: string; seq: string | number; balance_after: string | number; id: string }>(
      result,
    )) {
      found.push({
        userId: row.user_id,
        seq: Number(row.seq),
        balance: Number(row.balance_after),
        transactionId: row.id,
      });
    }
  }
  return found;
}
