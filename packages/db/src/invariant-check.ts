import type { InvariantViolation, TouchedUsers } from "@credits/core";
import { sql } from "drizzle-orm";
import { type Database, rowsOf } from "./client.ts";

// The ledger invariant check of reconciliation (ADR 012): over every user (the full pass), or
// only over the users with ledger rows in a range of seq (the daily pass: its cost follows the
// day's postings, not the ledger's size).

// Per user: the cached balance is the ledger's sum, the grants' remainders (unswept included)
// sum to the balance (none while it is below zero), each grant's remainder is its opening (a
// migrated balance) plus its allocations, and each ledger row since grants exist (0018) moved
// grants by exactly what it changed of the balance's part above zero (what grants hold): a
// dispute's shortfall is debt and moves no grant, a credit repaying debt gives its grant only the
// rest. The one exception is a clawback's hold part (ADR 009): its hold release gives the hold's
// grants the credits whatever the balance, and its clawback row takes exactly those back.
const clawbackHoldPart = sql.raw(`(t.kind = 'hold_release' AND t.payment_id IS NOT NULL)
                                OR (t.kind IN ('refund_clawback', 'dispute_clawback') AND t.hold_id IS NOT NULL)`);

export async function findInvariantViolations(
  db: Database,
  limit: number,
  touched?: TouchedUsers,
): Promise<{ usersChecked: number; violations: InvariantViolation[] }> {
  // The full pass aggregates whole tables (hash joins); the daily pass the scoped users' rows
  // through their indexes: the same checks, with the scope's filters only where there is one.
  const scope = touched
    ? sql`SELECT user_id FROM credit_transactions
           WHERE seq > ${touched.afterSeq}::bigint AND seq <= ${touched.upToSeq}::bigint
          UNION
          SELECT unnest(string_to_array(${touched.users.join(",")}, ',')::uuid[])`
    : sql`SELECT id AS user_id FROM users`;
  const only = (column: string) => (touched ? sql`WHERE ${sql.raw(column)} IN (SELECT user_id FROM scope)` : sql``);
  const result = await db.execute(sql`
    WITH scope AS MATERIALIZED (${scope}),
    ledger AS (SELECT user_id, sum(amount) AS total FROM credit_transactions ${only("user_id")} GROUP BY user_id),
    scoped_grants AS (SELECT * FROM credit_grants ${only("user_id")}),
    grants AS (SELECT user_id, sum(remaining) AS total FROM scoped_grants GROUP BY user_id),
    bad_grants AS (
      SELECT cg.user_id FROM scoped_grants cg
        LEFT JOIN (SELECT grant_id, sum(amount) AS total FROM ledger_allocations
                    ${touched ? sql`WHERE grant_id IN (SELECT id FROM scoped_grants)` : sql``} GROUP BY grant_id) a
          ON a.grant_id = cg.id
       WHERE cg.remaining <> CASE WHEN cg.entry_id IS NULL THEN cg.amount ELSE 0 END + coalesce(a.total, 0)
      UNION
      SELECT t.user_id FROM credit_transactions t
        LEFT JOIN (SELECT entry_id, sum(amount) AS total FROM ledger_allocations
                    ${touched ? sql`WHERE entry_id IN (SELECT id FROM credit_transactions ${only("user_id")})` : sql``}
                    GROUP BY entry_id) a ON a.entry_id = t.id
       WHERE t.seq >= ledger_grants_epoch() ${touched ? sql`AND t.user_id IN (SELECT user_id FROM scope)` : sql``}
         AND coalesce(a.total, 0) <> CASE WHEN ${clawbackHoldPart} THEN t.amount
                                          ELSE greatest(t.balance_after, 0) - greatest(t.balance_after - t.amount, 0) END
    ),
    checked AS (
      SELECT u.id AS user_id, u.credits_balance AS balance, coalesce(l.total, 0) AS ledger_sum,
             coalesce(g.total, 0) AS grants_remaining,
             (u.credits_balance < 0 AND u.disputed_at IS NULL) AS negative_without_dispute,
             (u.id IN (SELECT user_id FROM bad_grants)) AS grants_inconsistent
        FROM users u
        LEFT JOIN ledger l ON l.user_id = u.id
        LEFT JOIN grants g ON g.user_id = u.id
       ${only("u.id")})
    SELECT *, (SELECT count(*) FROM scope)::int AS users_checked FROM checked
     WHERE balance <> ledger_sum OR negative_without_dispute OR grants_remaining <> greatest(balance, 0)
        OR grants_inconsistent
     LIMIT ${limit}`);
  const rows = rowsOf<{
    user_id: string;
    balance: string | number;
    ledger_sum: string | number;
    grants_remaining: string | number;
    negative_without_dispute: boolean;
    grants_inconsistent: boolean;
    users_checked: number;
  }>(result);
  const usersChecked = rows[0]
    ? Number(rows[0].users_checked)
    : Number(rowsOf<{ n: number }>(await db.execute(sql`SELECT count(*)::int AS n FROM (${scope}) s`))[0]?.n ?? 0);
  const violations = rows.map(
    (row): InvariantViolation => ({
      userId: row.user_id,
      balance: Number(row.balance),
      ledgerSum: Number(row.ledger_sum),
      grantsRemaining: Number(row.grants_remaining),
      negativeWithoutDispute: row.negative_without_dispute,
      grantsInconsistent: row.grants_inconsistent,
    }),
  );
  return { usersChecked, violations };
}

// How long the watermark waits for postings that were open when it looked (a posting takes
// milliseconds; one open longer leaves the checkpoint where it was, never skips its rows).
const SETTLE_TIMEOUT_MS = 5_000;
const SETTLE_POLL_MS = 20;

// A seq at or below which every ledger row is final: `seq` is taken at insert, not at commit, so
// a posting still open may hold a smaller seq than the largest one visible. The watermark is the
// largest visible seq once every transaction open at that moment has ended.
export async function ledgerWatermark(db: Database): Promise<{ seq: number; settled: boolean }> {
  const [seen] = rowsOf<{ snapshot: string; seq: string | number }>(
    await db.execute(sql`
      SELECT pg_current_snapshot()::text AS snapshot,
             coalesce((SELECT max(seq) FROM credit_transactions), 0) AS seq`),
  );
  const seq = Number(seen?.seq ?? 0);
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    const [state] = rowsOf<{ settled: boolean }>(
      await db.execute(sql`
        SELECT pg_snapshot_xmin(pg_current_snapshot()) >= pg_snapshot_xmax(${seen?.snapshot}::pg_snapshot) AS settled`),
    );
    if (state?.settled) return { seq, settled: true };
    if (Date.now() > deadline) return { seq, settled: false };
    await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
  }
}
