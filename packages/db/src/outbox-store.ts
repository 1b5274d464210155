import { checkedEventData, type EventType, type OutboxEvent, type OutboxStore } from "@credits/core";
import { asc, gt, sql } from "drizzle-orm";
import { type Database, rowsOf } from "./client.ts";
import { outboxEvents } from "./schema.ts";

// Writes events through outbox_emit (drizzle/0009_outbox.sql), the same function a SQL posting can
// call, on the connection it is given: a transaction's, so the event commits or rolls back with
// the change that caused it.
export function createOutboxStore(db: Database): OutboxStore {
  return {
    emit: async ({ type, userId, data, at }) => {
      const checked = checkedEventData(type, data);
      const result = await db.execute(
        sql`SELECT outbox_emit(${type}, ${userId}::uuid, ${JSON.stringify(checked)}::jsonb, ${at?.toISOString() ?? null}::timestamptz) AS id`,
      );
      const [row] = rowsOf<{ id: string }>(result);
      if (!row) throw new Error(`outbox: ${type} not written`);
      return row.id;
    },
  };
}

// Events after `afterSeq`, in insertion order.
export async function readOutbox(db: Database, afterSeq: number, limit: number): Promise<OutboxEvent[]> {
  const rows = await db
    .select()
    .from(outboxEvents)
    .where(gt(outboxEvents.seq, afterSeq))
    .orderBy(asc(outboxEvents.seq))
    .limit(limit);
  return rows.map((row) => ({ ...row, type: row.type as EventType, payload: row.payload as OutboxEvent["payload"] }));
}
