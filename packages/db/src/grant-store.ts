import type { CreditGrant, GrantAllocation, InvariantViolation, LedgerStore } from "@credits/core";
import { and, desc, eq, getTableColumns, gt, isNull, or, sql } from "drizzle-orm";

import { type Database, rowsOf } from "./client.ts";
import { creditGrants, creditTransactions, users } from "./schema.ts";

// The reads of credit grants (ADR 009). Every write goes through the posting functions of
// drizzle/0007_credit_grants.sql.

// A ledger row with its allocations: one aggregate per row, still one query per page.
export const entryColumns = {
  ...getTableColumns(creditTransactions),
  allocations: sql<GrantAllocation[]>`ledger_allocations_of(${creditTransactions.id})`.as("allocations"),
};

// The balance at an instant: the cached balance less the remainders of grants already past their
// expiry that no posting or sweep has recorded yet (credit_grants_due_idx finds them).
const liveBalance = (at: Date | undefined) => sql<string | number>`${users.creditsBalance} - coalesce((
  SELECT sum(g.remaining) FROM credit_grants g
   WHERE g.user_id = "users"."id" AND g.remaining > 0 AND g.expires_at <= coalesce(${at?.toISOString() ?? null}::timestamptz, now())
), 0)`;

export function balanceQuery(db: Database, userId: string, at: Date | undefined) {
  return db
    .select({ balance: liveBalance(at) })
    .from(users)
    .where(eq(users.id, userId));
}

const toGrant = (row: typeof creditGrants.$inferSelect): CreditGrant => ({
  id: row.id,
  userId: row.userId,
  category: row.category,
  priority: row.priority,
  amount: row.amount,
  remaining: row.remaining,
  expiresAt: row.expiresAt,
  createdAt: row.createdAt,
  source: row.source,
  paymentId: row.paymentId,
  expiredAt: row.expiredAt,
});

type GrantReads = Pick<
  LedgerStore,
  "listGrants" | "grantHistory" | "findGrantByEntry" | "expireDueGrants" | "findInvariantViolations"
>;

export function grantReads(db: Database): GrantReads {
  const g = creditGrants;
  return {
    listGrants: async (userId, at) => {
      const rows = await db
        .select()
        .from(g)
        .where(and(eq(g.userId, userId), gt(g.remaining, 0), or(isNull(g.expiresAt), gt(g.expiresAt, at))))
        .orderBy(g.priority, sql`${g.expiresAt} NULLS LAST`, g.createdAt, sql`${g.entrySeq} NULLS FIRST`, g.id);
      return rows.map(toGrant);
    },

    grantHistory: async (userId, limit) => {
      const rows = await db
        .select()
        .from(g)
        .where(eq(g.userId, userId))
        .orderBy(desc(g.createdAt), sql`${g.entrySeq} DESC NULLS LAST`, desc(g.id))
        .limit(limit);
      return rows.map(toGrant);
    },

    findGrantByEntry: async (entryId) => {
      const [row] = await db.select().from(g).where(eq(g.entryId, entryId));
      return row ? toGrant(row) : null;
    },

    expireDueGrants: async (at, maxUsers) => {
      const result = await db.execute(
        sql`SELECT expire_due_grants(${at.toISOString()}::timestamptz, ${maxUsers}::int) AS handled`,
      );
      const [row] = rowsOf<{ handled: number }>(result);
      return Number(row?.handled ?? 0);
    },

    // Per user: the cached balance is the ledger's sum, the grants' remainders (unswept included)
    // sum to the balance (none while it is below zero), each grant's remainder is its opening (a
    // migrated balance) plus its allocations, and each row that moved grants moved its whole
    // amount unless the user was ever in debt (a dispute's shortfall moves no grant).
    findInvariantViolations: async (limit) => {
      const [counted] = await db.select({ count: sql<number>`count(*)::int` }).from(users);
      const result = await db.execute(sql`
        WITH ledger AS (SELECT user_id, sum(amount) AS total FROM credit_transactions GROUP BY user_id),
        grants AS (SELECT user_id, sum(remaining) AS total FROM credit_grants GROUP BY user_id),
        bad_grants AS (
          SELECT cg.user_id FROM credit_grants cg
            LEFT JOIN (SELECT grant_id, sum(amount) AS total FROM ledger_allocations GROUP BY grant_id) a
              ON a.grant_id = cg.id
           WHERE cg.remaining <> CASE WHEN cg.entry_id IS NULL THEN cg.amount ELSE 0 END + coalesce(a.total, 0)
          UNION
          SELECT t.user_id FROM credit_transactions t
            JOIN (SELECT entry_id, sum(amount) AS total FROM ledger_allocations GROUP BY entry_id) a ON a.entry_id = t.id
            JOIN users u ON u.id = t.user_id
           WHERE u.disputed_at IS NULL AND a.total <> t.amount
        )
        SELECT u.id AS user_id, u.credits_balance AS balance, coalesce(l.total, 0) AS ledger_sum,
               coalesce(g.total, 0) AS grants_remaining,
               (u.credits_balance < 0 AND u.disputed_at IS NULL) AS negative_without_dispute,
               (u.id IN (SELECT user_id FROM bad_grants)) AS grants_inconsistent
          FROM users u
          LEFT JOIN ledger l ON l.user_id = u.id
          LEFT JOIN grants g ON g.user_id = u.id
         WHERE u.credits_balance <> coalesce(l.total, 0)
            OR (u.credits_balance < 0 AND u.disputed_at IS NULL)
            OR coalesce(g.total, 0) <> greatest(u.credits_balance, 0)
            OR u.id IN (SELECT user_id FROM bad_grants)
         LIMIT ${limit}`);
      const violations = rowsOf<{
        user_id: string;
        balance: string | number;
        ledger_sum: string | number;
        grants_remaining: string | number;
        negative_without_dispute: boolean;
        grants_inconsistent: boolean;
      }>(result).map(
        (row): InvariantViolation => ({
          userId: row.user_id,
          balance: Number(row.balance),
          ledgerSum: Number(row.ledger_sum),
          grantsRemaining: Number(row.grants_remaining),
          negativeWithoutDispute: row.negative_without_dispute,
          grantsInconsistent: row.grants_inconsistent,
        }),
      );
      return { usersChecked: counted?.count ?? 0, violations };
    },
  };
}
