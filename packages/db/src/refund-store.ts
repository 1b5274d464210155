import { IN_FLIGHT_REFUND_STATUSES, isUuid, MAX_REFUNDS_LISTED, type RefundStore } from "@credits/core";
import { and, desc, eq, gt, inArray, lte, ne, type SQL, sql } from "drizzle-orm";
import type { Database } from "./client.ts";
import { translatingErrors } from "./errors.ts";
import { adminActions, paymentRefunds, payments, providerErasureTasks, providerRefundFailures } from "./schema.ts";

export function createRefundStore(db: Database): RefundStore {
  return translatingErrors<RefundStore>({
    ...refundFailures(db),
    ...refundLists(db),
    inFlightMinorOf: (paymentIds) => inFlightMinorOf(db, paymentIds),
    insertRefund: async (refund) => {
      const [row] = await db
        .insert(paymentRefunds)
        .values(refund)
        .onConflictDoNothing({ target: paymentRefunds.idempotencyKey })
        .returning();
      return row ?? null;
    },

    queueErasureRefund: async ({ id, userId }) => {
      await db.insert(providerErasureTasks).values({ kind: "send_refund", targetId: id, userId }).onConflictDoNothing();
    },

    findRefund: async (id) => {
      if (!isUuid(id)) return null;
      const [row] = await db.select().from(paymentRefunds).where(eq(paymentRefunds.id, id));
      return row ?? null;
    },

    findRefundByKey: async (key) => {
      const [row] = await db.select().from(paymentRefunds).where(eq(paymentRefunds.idempotencyKey, key));
      return row ?? null;
    },

    lockRefund: async (id) => {
      if (!isUuid(id)) return null;
      const [row] = await db.select().from(paymentRefunds).where(eq(paymentRefunds.id, id)).for("update");
      return row ?? null;
    },

    updateRefund: async (id, patch) => {
      const [row] = await db
        .update(paymentRefunds)
        .set({ ...patch, updatedAt: sql`now()` })
        .where(eq(paymentRefunds.id, id))
        .returning();
      if (!row) throw new Error(`refund ${id} not found`);
      return row;
    },

    decideRefund: async (id, { status, decidedBy, now }) => {
      if (!isUuid(id)) return null;
      const [row] = await db
        .update(paymentRefunds)
        .set({ status, decidedBy, decidedAt: now, updatedAt: sql`now()` })
        .where(
          and(
            eq(paymentRefunds.id, id),
            eq(paymentRefunds.status, "pending"),
            gt(paymentRefunds.expiresAt, now),
            ne(paymentRefunds.requestedBy, decidedBy),
            ne(paymentRefunds.userId, decidedBy),
          ),
        )
        .returning();
      return row ?? null;
    },

    expireRefunds: (now) =>
      db
        .update(paymentRefunds)
        .set({ status: "expired", decidedAt: now, updatedAt: sql`now()` })
        .where(and(eq(paymentRefunds.status, "pending"), lte(paymentRefunds.expiresAt, now)))
        .returning(),

    inFlightMinor: async (paymentId) => (await inFlightMinorOf(db, [paymentId])).get(paymentId) ?? 0,

    audit: async (action) => {
      await db.insert(adminActions).values(action);
    },
  });
}

// The refund pages: an admin's view (by payment, by status) and reconciliation's unanswered ones.
function refundLists(db: Database): Pick<RefundStore, "listRefunds" | "listUnanswered"> {
  return {
    listRefunds: ({ paymentIds, status, limit }) => {
      const conditions: SQL[] = [];
      if (paymentIds) conditions.push(inArray(paymentRefunds.paymentId, paymentIds));
      if (status) conditions.push(eq(paymentRefunds.status, status));
      return db
        .select()
        .from(paymentRefunds)
        .where(and(...conditions))
        .orderBy(desc(paymentRefunds.createdAt), desc(paymentRefunds.id))
        .limit(limit);
    },

    listUnanswered: ({ sentBefore, limit }) => {
      // Sent when approved, or when filed if it needed no approval: the expression of the partial
      // index payment_refunds_processing_idx (0033), which answers this range in this order.
      const sent = sql`coalesce(${paymentRefunds.decidedAt}, ${paymentRefunds.createdAt})`;
      return db
        .select()
        .from(paymentRefunds)
        .where(and(eq(paymentRefunds.status, "processing"), sql`${sent} <= ${sentBefore.toISOString()}::timestamptz`))
        .orderBy(sent, paymentRefunds.id)
        .limit(limit);
    },
  };
}

// The provider refunds that failed after we counted them (0027), one row per provider refund.
function refundFailures(db: Database): Pick<RefundStore, "recordRefundFailure" | "failedRefundIds"> {
  return {
    recordRefundFailure: async (failure) => {
      const rows = await db
        .insert(providerRefundFailures)
        .values(failure)
        .onConflictDoNothing({ target: providerRefundFailures.providerRefundId })
        .returning({ id: providerRefundFailures.providerRefundId });
      return rows.length > 0;
    },

    failedRefundIds: async (paymentId) => {
      const rows = await db
        .select({ id: providerRefundFailures.providerRefundId })
        .from(providerRefundFailures)
        .where(eq(providerRefundFailures.paymentId, paymentId))
        .limit(MAX_REFUNDS_LISTED);
      return rows.map((row) => row.id);
    },
  };
}

// What each payment's refunds hold beyond its refunded amount, in one statement: those in flight,
// and the succeeded ones' sum less the payment's refunded amount when that is larger. A refund
// made at the provider's dashboard is in the refunded amount and in no row, so before its report
// the succeeded rows may count less than is refunded (never more).
async function inFlightMinorOf(db: Database, paymentIds: string[]): Promise<Map<string, number>> {
  if (paymentIds.length === 0) return new Map();
  const r = paymentRefunds;
  const amount = r.amountMinor;
  const inFlight = sql`coalesce(sum(${amount}) FILTER (WHERE ${inArray(r.status, [...IN_FLIGHT_REFUND_STATUSES])}), 0)`;
  const succeeded = sql`coalesce(sum(${amount}) FILTER (WHERE ${r.status} = 'succeeded'), 0)`;
  const rows = await db
    .select({
      paymentId: r.paymentId,
      total: sql<string>`${inFlight} + greatest(${succeeded} - max(${payments.amountRefundedMinor}), 0)`,
    })
    .from(r)
    .innerJoin(payments, eq(payments.id, r.paymentId))
    .where(inArray(r.paymentId, paymentIds))
    .groupBy(r.paymentId);
  return new Map(rows.filter((row) => Number(row.total) > 0).map((row) => [row.paymentId, Number(row.total)]));
}
