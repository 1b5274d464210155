import type {
  BreakAcknowledged,
  BreakApprovalRule,
  LedgerBreakAcknowledgement,
  LedgerBreakRequest,
  ReconciliationStore,
} from "@credits/core";
import { and, desc, eq, isNull, sql } from "drizzle-orm";
import { unapprovedMoveTotal } from "./admin-store.ts";
import { type Database, rowsOf } from "./client.ts";
import { adminActions, ledgerBreakAcknowledgements, ledgerBreakRequests } from "./schema.ts";

// An admin's acknowledgement of a break in a user's balance_after chain (ADR 012): the jump is read
// from the ledger here, not taken from the caller, so what the checks accept is exactly what the
// row holds. One admin alone accepts it within the approval rule; beyond it, two (a request).

type Acknowledge = ReconciliationStore["acknowledgeBreak"];
type Ack = Parameters<Acknowledge>[0];
type Audit = Parameters<Acknowledge>[1];
type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];

export const acknowledgeBreak =
  (db: Database): Acknowledge =>
  (ack, audit, rule) =>
    db.transaction(async (tx) => {
      // The user's balance lock, as every single-admin move takes it: the window's total and
      // this acknowledgement are decided together (ADR 023).
      await tx.execute(sql`SELECT 1 FROM users WHERE id = ${ack.userId}::uuid FOR UPDATE`);
      const request = await findRequest(tx, ack.userId, ack.seq);
      const existing = await find(tx, ack.userId, ack.seq);
      if (existing) return { acknowledgement: existing, created: false, request };
      const delta = await jumpAt(tx, ack.userId, ack.seq);
      if (delta === null) return "no_row";
      if (delta === 0) return "no_break";
      if (!request && !(await beyondOneAdmin(tx, ack.userId, delta, rule))) {
        return accept(tx, ack, delta, audit, { request: null, threshold: rule.approvalThreshold });
      }
      if (!request || request.delta !== delta) return fileRequest(tx, ack, delta, audit);
      if (request.requestedBy === ack.actorId) return { request, created: false };
      // Only a signed-in admin is a second person: the CLI names its admin by email alone.
      if (audit.via === "cli") return "second_admin_signed_in";
      await tx
        .update(ledgerBreakRequests)
        .set({ acceptedAt: sql`now()` })
        .where(and(eq(ledgerBreakRequests.userId, ack.userId), eq(ledgerBreakRequests.seq, ack.seq)));
      return accept(tx, ack, delta, audit, { request, threshold: null });
    });

// The row's balance_after minus the previous row's (0 before the first) minus its amount; null:
// the user has no row with that seq.
async function jumpAt(tx: Tx, userId: string, seq: number): Promise<number | null> {
  const [row] = rowsOf<{ delta: string | number }>(
    await tx.execute(sql`
      SELECT t.balance_after - t.amount
             - coalesce((SELECT p.balance_after FROM credit_transactions p
                          WHERE p.user_id = t.user_id AND p.seq < t.seq ORDER BY p.seq DESC LIMIT 1), 0) AS delta
        FROM credit_transactions t WHERE t.user_id = ${userId}::uuid AND t.seq = ${seq}::bigint`),
  );
  return row ? Number(row.delta) : null;
}

const beyondOneAdmin = async (tx: Tx, userId: string, delta: number, rule: BreakApprovalRule) =>
  (await unapprovedMoveTotal(tx, userId, rule.approvalWindowMs)) + Math.abs(delta) > rule.approvalThreshold;

// The first admin's acknowledgement beyond the rule: a request for a second admin. One whose row's
// jump changed since it was made (an earlier row inserted by a restore) is replaced by this one:
// a second admin accepts only the jump they were shown.
async function fileRequest(tx: Tx, ack: Ack, delta: number, audit: Audit): Promise<BreakAcknowledged> {
  const values = { userId: ack.userId, seq: ack.seq, delta, requestedBy: ack.actorId, reason: ack.reason };
  const [request] = await tx
    .insert(ledgerBreakRequests)
    .values(values)
    .onConflictDoUpdate({
      target: [ledgerBreakRequests.userId, ledgerBreakRequests.seq],
      set: { ...values, createdAt: sql`now()` },
    })
    .returning();
  if (!request) throw new Error("break request neither inserted nor replaced");
  await tx.insert(adminActions).values({
    actorId: ack.actorId,
    targetUserId: ack.userId,
    action: "ledger_break.requested",
    reason: ack.reason,
    requestId: audit.requestId,
    detail: { seq: ack.seq, delta, via: audit.via },
  });
  return { request, created: true };
}

// Records the acknowledgement and its audit row: one admin's (its amount the jump, counted by the
// approval window; the threshold it was accepted under), or a second admin's (naming the request).
async function accept(
  tx: Tx,
  ack: Ack,
  delta: number,
  audit: Audit,
  by: { request: LedgerBreakRequest | null; threshold: number | null },
): Promise<BreakAcknowledged> {
  const [inserted] = await tx
    .insert(ledgerBreakAcknowledgements)
    .values({ ...ack, delta })
    .onConflictDoNothing()
    .returning();
  // Another admin's acknowledgement of the same row committed first: theirs stands.
  if (!inserted) {
    const theirs = await find(tx, ack.userId, ack.seq);
    if (!theirs) throw new Error("acknowledgement neither inserted nor found");
    return { acknowledgement: theirs, created: false, request: by.request };
  }
  const { request, threshold } = by;
  await tx.insert(adminActions).values({
    actorId: ack.actorId,
    targetUserId: ack.userId,
    action: request ? "ledger_break.approved" : "ledger_break.acknowledged",
    amount: request ? null : delta,
    reason: ack.reason,
    requestId: audit.requestId,
    detail: {
      seq: ack.seq,
      delta,
      via: audit.via,
      ...(request ? { requestedBy: request.requestedBy } : { threshold }),
    },
  });
  return { acknowledgement: inserted, created: true, request };
}

// The requests no second admin accepted yet, newest first (the partial index holds only these).
export const pendingBreakRequests =
  (db: Database): ReconciliationStore["pendingBreakRequests"] =>
  (limit) => {
    const r = ledgerBreakRequests;
    return db.select().from(r).where(isNull(r.acceptedAt)).orderBy(desc(r.createdAt), r.userId, r.seq).limit(limit);
  };

async function findRequest(tx: Tx, userId: string, seq: number): Promise<LedgerBreakRequest | null> {
  const r = ledgerBreakRequests;
  const [row] = await tx
    .select()
    .from(r)
    .where(and(eq(r.userId, userId), eq(r.seq, seq)));
  return row ?? null;
}

async function find(tx: Tx, userId: string, seq: number): Promise<LedgerBreakAcknowledgement | null> {
  const t = ledgerBreakAcknowledgements;
  const [row] = await tx
    .select()
    .from(t)
    .where(and(eq(t.userId, userId), eq(t.seq, seq)));
  return row ?? null;
}
