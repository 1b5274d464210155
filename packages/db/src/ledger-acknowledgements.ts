import type {
  BreakAcknowledged,
  LedgerBreakAcknowledgement,
  LedgerBreakRequest,
  ReconciliationStore,
} from "@credits/core";
import { and, desc, eq, notExists, sql } from "drizzle-orm";
import { type Database, rowsOf } from "./client.ts";
import { adminActions, ledgerBreakAcknowledgements, ledgerBreakRequests } from "./schema.ts";

// An admin's acknowledgement of a break in a user's balance_after chain (ADR 012): the jump is read
// from the ledger here, not taken from the caller, so what the checks accept is exactly what the
// row holds. A jump above what one admin may accept waits for a second admin (a request).

type Acknowledge = ReconciliationStore["acknowledgeBreak"];
type Ack = Parameters<Acknowledge>[0];
type Audit = Parameters<Acknowledge>[1];
type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];

export const acknowledgeBreak =
  (db: Database): Acknowledge =>
  (ack, audit, maxDelta) =>
    db.transaction(async (tx) => {
      const existing = await find(tx, ack.userId, ack.seq);
      if (existing) return { acknowledgement: existing, created: false };
      const [row] = rowsOf<{ delta: string | number }>(
        await tx.execute(sql`
          SELECT t.balance_after - t.amount
                 - coalesce((SELECT p.balance_after FROM credit_transactions p
                              WHERE p.user_id = t.user_id AND p.seq < t.seq ORDER BY p.seq DESC LIMIT 1), 0) AS delta
            FROM credit_transactions t WHERE t.user_id = ${ack.userId}::uuid AND t.seq = ${ack.seq}::bigint`),
      );
      if (!row) return "no_row";
      const delta = Number(row.delta);
      if (delta === 0) return "no_break";
      if (Math.abs(delta) <= maxDelta) return accept(tx, ack, delta, audit, null);
      return requestOrSecond(tx, ack, delta, audit);
    });

// Above the limit: the first admin's acknowledgement is a request; the same admin again is
// answered it; another admin's accepts the break. Two admins at once: the request row's insert
// waits for the other's, then the later one reads it (READ COMMITTED, a statement's own snapshot).
async function requestOrSecond(tx: Tx, ack: Ack, delta: number, audit: Audit): Promise<BreakAcknowledged> {
  const [request] = await tx
    .insert(ledgerBreakRequests)
    .values({ userId: ack.userId, seq: ack.seq, delta, requestedBy: ack.actorId, reason: ack.reason })
    .onConflictDoNothing()
    .returning();
  if (request) {
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
  const t = ledgerBreakRequests;
  const [first] = await tx
    .select()
    .from(t)
    .where(and(eq(t.userId, ack.userId), eq(t.seq, ack.seq)));
  if (!first) throw new Error("break request neither inserted nor found");
  if (first.requestedBy === ack.actorId) return { request: first, created: false };
  return accept(tx, ack, delta, audit, first);
}

// Records the acknowledgement and its audit row (with the request a second admin accepted).
async function accept(
  tx: Tx,
  ack: Ack,
  delta: number,
  audit: Audit,
  request: LedgerBreakRequest | null,
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
    return { acknowledgement: theirs, created: false };
  }
  await tx.insert(adminActions).values({
    actorId: ack.actorId,
    targetUserId: ack.userId,
    action: "ledger_break.acknowledged",
    reason: ack.reason,
    requestId: audit.requestId,
    detail: { seq: ack.seq, delta, via: audit.via, ...(request ? { requestedBy: request.requestedBy } : {}) },
  });
  return { acknowledgement: inserted, created: true };
}

// The requests no second admin acknowledged yet, newest first.
export const pendingBreakRequests =
  (db: Database): ReconciliationStore["pendingBreakRequests"] =>
  (limit) => {
    const r = ledgerBreakRequests;
    const k = ledgerBreakAcknowledgements;
    return db
      .select()
      .from(r)
      .where(
        notExists(
          db
            .select({ one: sql`1` })
            .from(k)
            .where(and(eq(k.userId, r.userId), eq(k.seq, r.seq))),
        ),
      )
      .orderBy(desc(r.createdAt), r.userId, r.seq)
      .limit(limit);
  };

async function find(
  tx: Pick<Database, "select">,
  userId: string,
  seq: number,
): Promise<LedgerBreakAcknowledgement | null> {
  const t = ledgerBreakAcknowledgements;
  const [row] = await tx
    .select()
    .from(t)
    .where(and(eq(t.userId, userId), eq(t.seq, seq)));
  return row ?? null;
}
