import type { InvariantCheck, InvariantViolation, TouchedUsers } from "@credits/core";
import { type SQL, sql } from "drizzle-orm";
import { type Database, rowsOf } from "./client.ts";

// The ledger invariant check of reconciliation (ADR 012): over every user and every row (the full
// pass), or only over the rows posted since the previous checkpoint (the daily pass: its cost
// follows the day's postings, not the ledger's size).

// Per user: the cached balance is what the ledger says; each row continues the one before it in
// seq order (its balance_after is the previous row's plus its amount, the first row's its
// amount; a break an admin acknowledged is accepted with exactly its recorded jump); the grants' remainders (unswept included) sum to the balance (none while it is below
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

// A row that does not continue the one before it (c: the row and its predecessor's balance_after,
// k: an acknowledged break at the row, whose recorded jump alone is accepted there).
const chainBroken = sql`c.before + c.amount + coalesce(k.delta, 0) <> c.balance_after`;

// A grant whose remainder is not its opening plus its allocations (cg: the grant).
const grantDrifted = (allocated: SQL) =>
  sql`cg.remaining <> CASE WHEN cg.entry_id IS NULL THEN cg.amount ELSE 0 END + coalesce(${allocated}, 0)`;

// The full pass: whole tables, aggregated with hash joins; the chain by a window over each user's
// rows. The balance is compared with the sum of the user's rows plus the jumps admins acknowledged.
const fullPass = sql`
  chained AS (
    SELECT user_id, seq, amount, balance_after,
           lag(balance_after, 1, 0::bigint) OVER (PARTITION BY user_id ORDER BY seq) AS before
      FROM credit_transactions),
  ledger AS (
    SELECT c.user_id, sum(c.amount) + coalesce(sum(k.delta), 0) AS total,
           min(c.seq) FILTER (WHERE ${chainBroken}) AS broken_at
      FROM chained c LEFT JOIN ledger_break_acknowledgements k ON k.user_id = c.user_id AND k.seq = c.seq
     GROUP BY c.user_id),
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
// checked), each flagged user (ledger_flagged_users) from the start. Every read goes through an
// index by user and seq, entry or grant: the cost follows the new rows, the scoped users' grants and the
// grants opened since. A grant opened before the checkpoint has its remainder checked against
// all its allocations by the full pass only (a long-lived grant's allocations grow with the
// history); the rows moving it are checked here, and the user's grants must still sum to the balance.
// Per-user reads are LATERAL subqueries with an ORDER BY, a LIMIT or an aggregate, which the
// planner cannot flatten into a join: each is an index lookup per user in scope. As plain joins the
// planner, estimating the scope at a default 200 users, hashed whole scans of users, credit_grants
// and even the ledger (ADR 024). The anchor is an index-only scan: migration 0041's index carries
// balance_after.
const dailyPass = (touched: TouchedUsers) => sql`
  scope AS MATERIALIZED (
    SELECT user_id, min(from_seq) AS from_seq FROM (
      SELECT DISTINCT user_id, ${touched.afterSeq}::bigint AS from_seq FROM credit_transactions
       WHERE seq > ${touched.afterSeq}::bigint AND seq <= ${touched.upToSeq}::bigint
      UNION ALL
      SELECT user_id, 0::bigint FROM ledger_flagged_users) s
     GROUP BY user_id),
  anchored AS MATERIALIZED (
    SELECT s.user_id, s.from_seq, coalesce(a.balance_after, 0) AS anchor FROM scope s
      LEFT JOIN LATERAL (SELECT balance_after FROM credit_transactions a
                          WHERE a.user_id = s.user_id AND a.seq <= s.from_seq ORDER BY a.seq DESC LIMIT 1) a ON true),
  fresh AS MATERIALIZED (
    SELECT t.id, t.user_id, t.seq, t.amount, t.balance_after, t.kind, t.payment_id, t.hold_id,
           lag(t.balance_after, 1, s.anchor) OVER (PARTITION BY t.user_id ORDER BY t.seq) AS before
      FROM anchored s
     CROSS JOIN LATERAL (SELECT c.id, c.user_id, c.seq, c.amount, c.balance_after, c.kind, c.payment_id, c.hold_id
                           FROM credit_transactions c
                          WHERE c.user_id = s.user_id AND c.seq > s.from_seq ORDER BY c.seq) t),
  ledger AS (
    SELECT c.user_id, (array_agg(c.balance_after ORDER BY c.seq DESC))[1] AS total,
           min(c.seq) FILTER (WHERE ${chainBroken}) AS broken_at
      FROM fresh c LEFT JOIN ledger_break_acknowledgements k ON k.user_id = c.user_id AND k.seq = c.seq
     GROUP BY c.user_id),
  bad_grants AS (
    SELECT s.user_id FROM scope s
     CROSS JOIN LATERAL (
       SELECT 1 FROM credit_grants cg
         LEFT JOIN LATERAL (SELECT sum(amount) AS total FROM ledger_allocations a WHERE a.grant_id = cg.id) a ON true
        WHERE cg.user_id = s.user_id AND (s.from_seq = 0 OR cg.entry_seq > s.from_seq) AND ${grantDrifted(sql`a.total`)}
        LIMIT 1) drifted
    UNION
    SELECT t.user_id FROM fresh t
      LEFT JOIN LATERAL (SELECT sum(amount) AS total FROM ledger_allocations a WHERE a.entry_id = t.id) a ON true
     WHERE ${rowMovedGrantsWrongly(sql`a.total`)}),
  checked AS (
    SELECT s.user_id, u.credits_balance AS balance, coalesce(l.total, s.anchor) AS ledger_sum, l.broken_at,
           coalesce(g.total, 0) AS grants_remaining,
           (u.credits_balance < 0 AND u.disputed_at IS NULL) AS negative_without_dispute,
           (s.user_id IN (SELECT user_id FROM bad_grants)) AS grants_inconsistent
      FROM anchored s
     CROSS JOIN LATERAL (SELECT credits_balance, disputed_at FROM users WHERE id = s.user_id LIMIT 1) u
     CROSS JOIN LATERAL (SELECT sum(remaining) AS total FROM credit_grants cg WHERE cg.user_id = s.user_id) g
      LEFT JOIN ledger l ON l.user_id = s.user_id),
  counted AS (SELECT count(*)::int AS n FROM scope)`;

// The flagged set, with `flag`: this check's violators in (a user already in keeps when they were
// last reported), everyone else out (the daily pass's scope holds every flagged user).
const flagging = sql`,
  flagged AS (INSERT INTO ledger_flagged_users (user_id) SELECT user_id FROM violating ON CONFLICT (user_id) DO NOTHING),
  cleared AS (DELETE FROM ledger_flagged_users WHERE user_id NOT IN (SELECT user_id FROM violating))`;

// Two ledger steps (a scheduled run and a manual one) write the flagged set one after the other:
// each from a snapshot taken after the other's commit, so an older check never clears a newer flag.
const FLAG_LOCK = sql`SELECT pg_advisory_xact_lock(hashtextextended('ledger_flagged_users', 0))`;

// The daily statement's work follows the users who posted, but its cost estimate grows with the
// tables: past jit_above_cost (at 5 M ledger rows) PostgreSQL compiled it first, ~100 ms against
// ~25 ms of work (ADR 024). Transaction-scoped, so nothing stays on a pooled connection. The full
// pass keeps JIT: it reads the whole ledger, where compiled expressions can pay back.
const NO_JIT = sql`SET LOCAL jit = off`;

// The check's one statement: a row of counts, then up to `limit` violators (exported for the
// test of its plan).
export function invariantCheckStatement(limit: number, touched: TouchedUsers | undefined, flag: boolean): SQL {
  return sql`
    WITH ${touched ? dailyPass(touched) : fullPass},
    violating AS MATERIALIZED (
      SELECT * FROM checked
       WHERE balance <> ledger_sum OR broken_at IS NOT NULL OR negative_without_dispute
          OR grants_remaining <> greatest(balance, 0) OR grants_inconsistent)${flag ? flagging : sql``}
    SELECT NULL AS user_id, NULL AS balance, NULL AS ledger_sum, NULL AS broken_at, NULL AS grants_remaining,
           NULL AS negative_without_dispute, NULL AS grants_inconsistent, n,
           (SELECT count(*)::int FROM violating) AS found FROM counted
    UNION ALL
    (SELECT v.*, NULL, NULL FROM violating v LEFT JOIN ledger_flagged_users f ON f.user_id = v.user_id
      ORDER BY f.reported_at NULLS FIRST, v.user_id LIMIT ${limit})`;
}

export async function findInvariantViolations(
  db: Database,
  limit: number,
  touched?: TouchedUsers,
  options: { flag?: boolean } = {},
): Promise<InvariantCheck> {
  const check = invariantCheckStatement(limit, touched, options.flag === true);
  const result =
    options.flag || touched
      ? await db.transaction(async (tx) => {
          if (touched) await tx.execute(NO_JIT);
          if (options.flag) await tx.execute(FLAG_LOCK);
          return tx.execute(check);
        })
      : await db.execute(check);
  const rows = rowsOf<{
    user_id: string | null;
    balance: string | number;
    ledger_sum: string | number;
    broken_at: string | number | null;
    grants_remaining: string | number;
    negative_without_dispute: boolean;
    grants_inconsistent: boolean;
    n: number | null;
    found: number | null;
  }>(result);
  const counts = rows.find((row) => row.user_id === null);
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
  return { usersChecked: Number(counts?.n ?? 0), violationsFound: Number(counts?.found ?? 0), violations };
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
