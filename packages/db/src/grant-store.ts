import type { CreditGrant, GrantAllocation, LedgerStore } from "@credits/core";
import { and, desc, eq, getTableColumns, gt, isNull, or, sql } from "drizzle-orm";

import { type Database, rowsOf } from "./client.ts";
import { findInvariantViolations, ledgerWatermark } from "./invariant-check.ts";
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
  | "listGrants"
  | "grantHistory"
  | "findGrantByEntry"
  | "expiredOfPayment"
  | "takenFromPaymentGrants"
  | "expireDueGrants"
  | "findInvariantViolations"
  | "ledgerWatermark"
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

    expiredOfPayment: async (userId, paymentId, at) => {
      const result = await db.execute(sql`
        SELECT coalesce((SELECT -sum(a.amount) FROM credit_grants cg
                           JOIN ledger_allocations a ON a.grant_id = cg.id
                           JOIN credit_transactions t ON t.id = a.entry_id AND t.kind = 'expiry'
                          WHERE cg.user_id = ${userId}::uuid AND cg.payment_id = ${paymentId}::uuid), 0)
             + coalesce((SELECT sum(cg.remaining) FROM credit_grants cg
                          WHERE cg.user_id = ${userId}::uuid AND cg.payment_id = ${paymentId}::uuid
                            AND cg.remaining > 0 AND cg.expires_at <= ${at.toISOString()}::timestamptz), 0) AS expired`);
      const [row] = rowsOf<{ expired: string | number }>(result);
      return Number(row?.expired ?? 0);
    },

    takenFromPaymentGrants: async (userId, paymentId, cause) => {
      const [clawback, reversal] = [`${cause}_clawback`, `${cause}_reversal`];
      const result = await db.execute(sql`
        SELECT coalesce(-sum(a.amount), 0) AS taken
          FROM credit_transactions t
          JOIN ledger_allocations a ON a.entry_id = t.id
          JOIN credit_grants cg ON cg.id = a.grant_id AND cg.payment_id = t.payment_id
         WHERE t.user_id = ${userId}::uuid AND t.payment_id = ${paymentId}::uuid
           AND t.kind IN (${clawback}::credit_transaction_kind, ${reversal}::credit_transaction_kind)`);
      const [row] = rowsOf<{ taken: string | number }>(result);
      return Number(row?.taken ?? 0);
    },

    expireDueGrants: async (at, maxUsers) => {
      const result = await db.execute(
        sql`SELECT expire_due_grants(${at.toISOString()}::timestamptz, ${maxUsers}::int) AS handled`,
      );
      const [row] = rowsOf<{ handled: number }>(result);
      return Number(row?.handled ?? 0);
    },

    findInvariantViolations: (limit, touched, options) => findInvariantViolations(db, limit, touched, options),
    ledgerWatermark: () => ledgerWatermark(db),
  };
}
