import { IN_FLIGHT_REFUND_STATUSES, isUuid, MAX_REFUNDS_LISTED, type RefundStore } from "@credits/core";
import { and, desc, eq, gt, inArray, isNull, lte, ne, or, type SQL, sql } from "drizzle-orm";
import type { Database } from "./client.ts";
import { translatingErrors } from "./errors.ts";
import { adminActions, paymentRefunds, providerErasureTasks, providerRefundFailures } from "./schema.ts";

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
function refundFailures(db: Database): Pick<RefundStore, "recordRefundFailure" | "failedRefundIds" | "markCounted"> {
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

    // A row whose answer recorded the provider's id is named by it; one still processing, by our
    // id in the refund's metadata (not a uuid: someone else's metadata, naming none of ours).
    markCounted: async (paymentId, { ids, providerRefundIds }, only) => {
      const r = paymentRefunds;
      const ours = ids.filter(isUuid);
      const named = sql`(${or(
        inArray(r.providerRefundId, providerRefundIds),
        and(isNull(r.providerRefundId), inArray(r.id, ours)),
      )})`;
      await db
        .update(r)
        .set({ countedInRefunded: named })
        .where(and(eq(r.paymentId, paymentId), only ? undefined : named, sql`${r.countedInRefunded} <> ${named}`));
    },
  };
}

// What each payment's refunds hold beyond its refunded amount, in one statement: those in flight
// or succeeded that the refunded amount is not known to count. Not "succeeded less refunded": a
// refund made at the provider's dashboard is in that amount and in no row, and would hide one of
// ours it does not count yet (review 10 F5). Counted twice at worst, until the provider's report.
async function inFlightMinorOf(db: Database, paymentIds: string[]): Promise<Map<string, number>> {
  if (paymentIds.length === 0) return new Map();
  const r = paymentRefunds;
  const held = inArray(r.status, [...IN_FLIGHT_REFUND_STATUSES, "succeeded"]);
  const rows = await db
    .select({ paymentId: r.paymentId, total: sql<string>`sum(${r.amountMinor})` })
    .from(r)
    .where(and(inArray(r.paymentId, paymentIds), held, eq(r.countedInRefunded, false)))
    .groupBy(r.paymentId);
  return new Map(rows.filter((row) => Number(row.total) > 0).map((row) => [row.paymentId, Number(row.total)]));
}
