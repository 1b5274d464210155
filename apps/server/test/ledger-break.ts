import { randomUUID } from "node:crypto";
import { rowsOf } from "@credits/db";
import { sql } from "drizzle-orm";
import { testDb } from "./harness.ts";

// A user whose ledger chain breaks at one row (a grant of 10, then a spend of 1 whose
// balance_after is 2 too high): what an admin may acknowledge (reconciliation.acknowledgeBreak).
export async function plantLedgerBreak(): Promise<{ userId: string; seq: number }> {
  const { db } = testDb;
  const email = `break-${randomUUID()}@example.test`;
  await db.execute(sql`INSERT INTO users (email) VALUES (${email})`);
  await db.execute(sql`
    SELECT count(*) FROM post_ledger((SELECT jsonb_build_array(jsonb_build_object('ord', 0, 'user_id', id,
      'amount', 10, 'kind', 'grant', 'idempotency_key', gen_random_uuid()::text)) FROM users WHERE email = ${email}))`);
  const [row] = rowsOf<{ user_id: string; seq: number }>(
    await db.execute(sql`
      INSERT INTO credit_transactions (user_id, amount, balance_after, kind, idempotency_key)
      SELECT id, -1, 11, 'spend', gen_random_uuid()::text FROM users WHERE email = ${email}
      RETURNING user_id, seq::int AS seq`),
  );
  if (!row) throw new Error("no break planted");
  return { userId: row.user_id, seq: row.seq };
}
