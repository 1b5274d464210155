// The statement a spend executes: post_ledger (drizzle/0007_credit_grants.sql), the one posting
// statement of packages/db/src/ledger-store.ts, for one posting with the same parameters.
// $1 userId, $2 amount (negative for a spend), $3 allowNegative, $4 kind, $5 idempotencyKey, $6 reason.
export const SPEND_SQL = `
SELECT * FROM post_ledger(jsonb_build_array(jsonb_build_object(
  'ord', 0, 'user_id', $1::uuid, 'amount', $2::bigint, 'allow_negative', $3::boolean,
  'kind', $4::credit_transaction_kind, 'idempotency_key', $5::text, 'reason', $6::text)))`;

// Bench users have ids derived from their number, so pgbench (which only draws integers) and the
// HTTP load generators address the same rows.
export function benchUserId(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
}
export const BENCH_USER_ID_SQL = (expr: string) =>
  `('00000000-0000-4000-8000-' || lpad(to_hex((${expr})::bigint), 12, '0'))::uuid`;
