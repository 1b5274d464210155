import type { LedgerBreakAcknowledgement, ReconciliationStore } from "@credits/core";
import { and, eq, sql } from "drizzle-orm";
import { type Database, rowsOf } from "./client.ts";
import { adminActions, ledgerBreakAcknowledgements } from "./schema.ts";

// An admin's acknowledgement of a break in a user's balance_after chain (ADR 012): the jump is read
// from the ledger here, not taken from the caller, so what the checks accept is exactly what the
// row holds.

type Acknowledge = ReconciliationStore["acknowledgeBreak"];

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
      if (Math.abs(delta) > maxDelta) return { aboveLimit: delta };
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
        detail: { seq: ack.seq, delta, via: audit.via },
      });
      return { acknowledgement: inserted, created: true };
    });

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
