import type { InvariantViolation, TouchedUsers } from "@credits/core";
import { type SQL, sql } from "drizzle-orm";
import { type Database, rowsOf } from "./client.ts";

// The ledger invariant check of reconciliation (ADR 012): over every user and every row (the full
// pass), or only over the rows posted since the previous checkpoint (the daily pass: its cost
// follows the day's postings, not the ledger's size).

// Per user: the cached balance is what the ledger says; each row continues the one before it in
// seq order (its balance_after is the previous row's plus its amount, the first row's its
// amount); the grants' remainders (unswept included) sum to the balance (none while it is below
// zero); each grant's remainder is its opening (a migrated balance) plus its allocations; and each
// ledger row since grants exist (0018) moved grants by exactly what it changed of the balance's
// part above zero (what grants hold): a dispute's shortfall is debt and moves no grant, a credit
// repaying debt gives its grant only the rest. The one exception is a clawback's hold part (ADR
// 009): its hold release gives the hold's grants the credits whatever the balance, and its
// clawback row takes exactly those back.
const clawbackHoldPart = sql.raw(`(t.kind = 'hold_release' AND t.payment_id IS NOT NULL)
                                OR (t.kind IN ('refund_clawback', 'dispute_clawback') AND t.hold_id IS NOT NULL)`);

// What a row moved of grants against what it changed of the balance above zero (t: the row).
const rowMovedGrantsWrongly = (allocated: SQL) => sql`t.seq >= ledger_grants_epoch()
     AND coalesce(${allocated}, 0) <> CASE WHEN ${clawbackHoldPart} THEN t.amount
                                           ELSE greatest(t.balance_after, 0) - greatest(t.balance_after - t.amount, 0) END`;

// A grant whose remainder is not its opening plus its allocations (cg: the grant).
const grantDrifted = (allocated: SQL) =>
  sql`cg.remaining <> CASE WHEN cg.entry_id IS NULL THEN cg.amount ELSE 0 END + coalesce(${allocated}, 0)`;

// The full pass: whole tables, aggregated with hash joins; the chain by a window over each user's
// rows. The balance is compared with the sum of the user's rows.
const fullPass = sql`
  chained AS (
    SELECT user_id, seq, amount, balance_after,
           lag(balance_after, 1, 0::bigint) OVER (PARTITION BY user_id ORDER BY seq) AS before
      FROM credit_transactions),
  ledger AS (
    SELECT user_id, sum(amount) AS total, min(seq) FILTER (WHERE before + amount <> balance_after) AS broken_at
      FROM chained GROUP BY user_id),
  grants AS (SELECT user_id, sum(remaining) AS total FROM credit_grants GROUP BY user_id),
  bad_grants AS (
    SELECT cg.user_id FROM credit_grants cg
      LEFT JOIN (SELECT grant_id, sum(amount) AS total FROM ledger_allocations GROUP BY grant_id) a ON a.grant_id = cg.id
     WHERE ${grantDrifted(sql`a.total`)}
    UNION
    SELECT t.user_id FROM credit_transactions t
      LEFT JOIN (SELECT entry_id, sum(amount) AS total FROM ledger_allocations GROUP BY entry_id) a ON a.entry_id = t.id
     WHERE ${rowMovedGrantsWrongly(sql`a.total`)}),
  checked AS (
    SELECT u.id AS user_id, u.credits_balance AS balance, coalesce(l.total, 0) AS ledger_sum, l.broken_at,
           coalesce(g.total, 0) AS grants_remaining,
           (u.credits_balance < 0 AND u.disputed_at IS NULL) AS negative_without_dispute,
           (u.id IN (SELECT user_id FROM bad_grants)) AS grants_inconsistent
      FROM users u LEFT JOIN ledger l ON l.user_id = u.id LEFT JOIN grants g ON g.user_id = u.id),
  counted AS (SELECT count(*)::int AS n FROM users)`;

// The daily pass: each user with rows in (afterSeq, upToSeq] is checked from afterSeq on (the
// rows after it, chained from the user's last row at or below it, which an earlier pass
// checked), each previously flagged user from the start. Every read goes through an index by
// user and seq, entry or grant: the cost follows the new rows, the scoped users' grants and the
// grants opened since. A grant opened before the checkpoint has its remainder checked against
// all its allocations by the full pass only (a long-lived grant's allocations grow with the
// history); the rows moving it are checked here, and the user's grants must still sum to the balance.
const dailyPass = (touched: TouchedUsers) => sql`
  scope AS MATERIALIZED (
    SELECT user_id, min(from_seq) AS from_seq FROM (
      SELECT DISTINCT user_id, ${touched.afterSeq}::bigint AS from_seq FROM credit_transactions
       WHERE seq > ${touched.afterSeq}::bigint AND seq <= ${touched.upToSeq}::bigint
      UNION ALL
      SELECT unnest(string_to_array(${touched.users.join(",")}, ',')::uuid[]), 0::bigint) s
     GROUP BY user_id),
  anchored AS MATERIALIZED (
    SELECT s.user_id, s.from_seq, coalesce(a.balance_after, 0) AS anchor FROM scope s
      LEFT JOIN LATERAL (SELECT balance_after FROM credit_transactions a
                          WHERE a.user_id = s.user_id AND a.seq <= s.from_seq ORDER BY a.seq DESC LIMIT 1) a ON true),
  fresh AS MATERIALIZED (
    SELECT t.id, t.user_id, t.seq, t.amount, t.balance_after, t.kind, t.payment_id, t.hold_id,
           lag(t.balance_after, 1, s.anchor) OVER (PARTITION BY t.user_id ORDER BY t.seq) AS before
      FROM anchored s JOIN credit_transactions t ON t.user_id = s.user_id AND t.seq > s.from_seq),
  ledger AS (
    SELECT user_id, (array_agg(balance_after ORDER BY seq DESC))[1] AS total,
           min(seq) FILTER (WHERE before + amount <> balance_after) AS broken_at
      FROM fresh GROUP BY user_id),
  grants AS (SELECT user_id, sum(remaining) AS total FROM credit_grants WHERE user_id IN (SELECT user_id FROM scope)
              GROUP BY user_id),
  bad_grants AS (
    SELECT cg.user_id FROM scope s JOIN credit_grants cg ON cg.user_id = s.user_id
      LEFT JOIN LATERAL (SELECT sum(amount) AS total FROM ledger_allocations a WHERE a.grant_id = cg.id) a ON true
     WHERE (s.from_seq = 0 OR cg.entry_seq > s.from_seq) AND ${grantDrifted(sql`a.total`)}
    UNION
    SELECT t.user_id FROM fresh t
      LEFT JOIN LATERAL (SELECT sum(amount) AS total FROM ledger_allocations a WHERE a.entry_id = t.id) a ON true
     WHERE ${rowMovedGrantsWrongly(sql`a.total`)}),
  checked AS (
    SELECT u.id AS user_id, u.credits_balance AS balance, coalesce(l.total, s.anchor) AS ledger_sum, l.broken_at,
           coalesce(g.total, 0) AS grants_remaining,
           (u.credits_balance < 0 AND u.disputed_at IS NULL) AS negative_without_dispute,
           (u.id IN (SELECT user_id FROM bad_grants)) AS grants_inconsistent
      FROM anchored s JOIN users u ON u.id = s.user_id
      LEFT JOIN ledger l ON l.user_id = u.id LEFT JOIN grants g ON g.user_id = u.id),
  counted AS (SELECT count(*)::int AS n FROM scope)`;

export async function findInvariantViolations(
  db: Database,
  limit: number,
  touched?: TouchedUsers,
): Promise<{ usersChecked: number; violations: InvariantViolation[] }> {
  const result = await db.execute(sql`
    WITH ${touched ? dailyPass(touched) : fullPass}
    SELECT NULL AS user_id, NULL AS balance, NULL AS ledger_sum, NULL AS broken_at, NULL AS grants_remaining,
           NULL AS negative_without_dispute, NULL AS grants_inconsistent, n FROM counted
    UNION ALL
    (SELECT checked.*, NULL FROM checked
      WHERE balance <> ledger_sum OR broken_at IS NOT NULL OR negative_without_dispute
         OR grants_remaining <> greatest(balance, 0) OR grants_inconsistent
      LIMIT ${limit})`);
  const rows = rowsOf<{
    user_id: string | null;
    balance: string | number;
    ledger_sum: string | number;
    broken_at: string | number | null;
    grants_remaining: string | number;
    negative_without_dispute: boolean;
    grants_inconsistent: boolean;
    n: number | null;
  }>(result);
  const usersChecked = Number(rows.find((row) => row.user_id === null)?.n ?? 0);
  const violations = rows.flatMap((row): InvariantViolation[] =>
    row.user_id === null
      ? []
      : [
          {
            userId: row.user_id,
            balance: Number(row.balance),
            ledgerSum: Number(row.ledger_sum),
            chainBrokenAtSeq: row.broken_at === null ? null : Number(row.broken_at),
            grantsRemaining: Number(row.grants_remaining),
            negativeWithoutDispute: row.negative_without_dispute,
            grantsInconsistent: row.grants_inconsistent,
          },
        ],
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
