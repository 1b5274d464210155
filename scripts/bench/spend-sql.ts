// The statement a spend executes: the CTE of packages/db/src/ledger-store.ts `post`, with the same
// parameters (drizzle numbers each interpolation separately; here each value is numbered once).
// $1 userId, $2 amount (negative for a spend), $3 allowNegative, $4 kind, $5 idempotencyKey, $6 reason.
export const SPEND_SQL = `
WITH changed AS (
  UPDATE users
     SET credits_balance = credits_balance + $2::bigint,
         disputed_at = CASE WHEN $3::boolean THEN coalesce(disputed_at, now()) ELSE disputed_at END
   WHERE id = $1::uuid
     AND ($3::boolean OR $2::bigint > 0 OR credits_balance + $2::bigint >= 0)
     AND NOT EXISTS (SELECT 1 FROM credit_transactions WHERE idempotency_key = $5)
  RETURNING credits_balance
)
INSERT INTO credit_transactions
  (user_id, amount, balance_after, kind, idempotency_key, reason, payment_id, hold_id, admin_action_id)
SELECT $1::uuid, $2::bigint, credits_balance,
       $4::credit_transaction_kind, $5, $6::text,
       NULL::uuid, NULL::uuid, NULL::uuid
  FROM changed
RETURNING id, seq, user_id, amount, balance_after, kind, idempotency_key, reason, payment_id, hold_id,
          admin_action_id, created_at`;

// Bench users have ids derived from their number, so pgbench (which only draws integers) and the
// HTTP load generators address the same rows.
export function benchUserId(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
}
export const BENCH_USER_ID_SQL = (expr: string) =>
  `('00000000-0000-4000-8000-' || lpad(to_hex((${expr})::bigint), 12, '0'))::uuid`;
