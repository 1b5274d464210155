import type {
  AttemptOutcome,
  ClaimedDelivery,
  EventPayload,
  EventType,
  WebhookAttempt,
  WebhookDelivery,
  WebhookStore,
} from "@credits/core";
import { and, asc, desc, eq, inArray, isNull, lte, or, sql } from "drizzle-orm";
import { type Database, rowsOf } from "./client.ts";
import { outboxEvents, webhookAttempts, webhookDeliveries } from "./schema.ts";
import { countDelivery } from "./webhook-endpoint-store.ts";

const d = webhookDeliveries;
const deliveryColumns = {
  id: d.id,
  endpointId: d.endpointId,
  eventId: d.eventId,
  eventType: outboxEvents.type,
  status: d.status,
  attempts: d.attempts,
  nextAttemptAt: d.nextAttemptAt,
  lastStatusCode: d.lastStatusCode,
  lastError: d.lastError,
  deliveredAt: d.deliveredAt,
  createdAt: d.createdAt,
};
type DeliveryRow = Omit<WebhookDelivery, "log" | "eventType"> & { eventType: string };

type DeliveryStore = Pick<
  WebhookStore,
  "listDeliveries" | "findDelivery" | "replayDelivery" | "claimDue" | "recordAttempt"
>;

// Deliveries: the log admins read and replay, and the claims and outcomes of the workers.
export function createWebhookDeliveryStore(db: Database): DeliveryStore {
  const deliveries = () => db.select(deliveryColumns).from(d).innerJoin(outboxEvents, eq(outboxEvents.id, d.eventId));
  const findDelivery = async (id: string) => {
    const [row] = await withLogs(db, await deliveries().where(eq(d.id, id)));
    return row ?? null;
  };
  return {
    listDeliveries: async (endpointId, limit, before) =>
      withLogs(
        db,
        await deliveries()
          .where(
            and(
              eq(d.endpointId, endpointId),
              before
                ? sql`(${d.createdAt}, ${d.id}) < (${before.at.toISOString()}::timestamptz, ${before.id}::uuid)`
                : undefined,
            ),
          )
          .orderBy(desc(d.createdAt), desc(d.id))
          .limit(limit),
      ),
    findDelivery,
    replayDelivery: async (id, now) => {
      // A live claim stays: its worker is sending, and clearing it would let another claim it too.
      const [row] = await db
        .update(d)
        .set({ status: "pending", roundAttempts: 0, nextAttemptAt: now })
        .where(and(eq(d.id, id), or(isNull(d.lockedUntil), lte(d.lockedUntil, now))))
        .returning({ id: d.id });
      if (row) return findDelivery(row.id);
      return (await findDelivery(id)) ? "in-flight" : null;
    },
    claimDue: (now, limit, lockedUntil) => claimDue(db, now, limit, lockedUntil),
    recordAttempt: (outcome, disableAfter) => recordAttempt(db, outcome, disableAfter),
  };
}

async function withLogs(db: Database, rows: DeliveryRow[]): Promise<WebhookDelivery[]> {
  if (rows.length === 0) return [];
  const attempts = await db
    .select()
    .from(webhookAttempts)
    .where(
      inArray(
        webhookAttempts.deliveryId,
        rows.map((row) => row.id),
      ),
    )
    .orderBy(asc(webhookAttempts.attempt));
  const attemptOf = ({ attempt, startedAt, statusCode, latencyMs, error, responseExcerpt }: WebhookAttempt) => ({
    attempt,
    startedAt,
    statusCode,
    latencyMs,
    error,
    responseExcerpt,
  });
  return rows.map((row) => ({
    ...row,
    eventType: row.eventType as EventType,
    nextAttemptAt: row.status === "pending" ? row.nextAttemptAt : null,
    log: attempts.filter((a) => a.deliveryId === row.id).map(attemptOf),
  }));
}

async function claimDue(db: Database, now: Date, limit: number, lockedUntil: Date): Promise<ClaimedDelivery[]> {
  const at = now.toISOString();
  const result = await db.execute(sql`
    UPDATE webhook_deliveries d
       SET locked_until = ${lockedUntil.toISOString()}::timestamptz,
           attempts = d.attempts + 1, round_attempts = d.round_attempts + 1
      FROM webhook_endpoints e, outbox_events o
     WHERE d.id IN (SELECT c.id FROM webhook_deliveries c JOIN webhook_endpoints ce ON ce.id = c.endpoint_id
                     WHERE c.status = 'pending' AND c.next_attempt_at <= ${at}::timestamptz
                       AND (c.locked_until IS NULL OR c.locked_until <= ${at}::timestamptz)
                       AND ce.status = 'enabled'
                     ORDER BY c.next_attempt_at
                     LIMIT ${limit}
                       FOR UPDATE OF c SKIP LOCKED)
       AND e.id = d.endpoint_id AND o.id = d.event_id
    RETURNING d.id, d.endpoint_id, e.url, e.secret, e.previous_secret, e.previous_secret_expires_at,
              d.event_id, o.payload, d.attempts, d.round_attempts`);
  return rowsOf<ClaimRow>(result).map((row) => claimOf(row, now));
}

// Records an attempt if the claim is still this attempt's (a late worker's result is dropped).
async function recordAttempt(db: Database, outcome: AttemptOutcome, disableAfter: number) {
  const [claimed] = await db
    .update(d)
    .set({
      status: outcome.status,
      nextAttemptAt: outcome.nextAttemptAt ?? sql`${d.nextAttemptAt}`,
      lockedUntil: null,
      lastStatusCode: outcome.statusCode,
      lastError: outcome.error,
      deliveredAt: outcome.status === "succeeded" ? outcome.startedAt : null,
    })
    .where(and(eq(d.id, outcome.deliveryId), eq(d.attempts, outcome.attempt), eq(d.status, "pending")))
    .returning({ endpointId: d.endpointId });
  if (!claimed) return { recorded: false, disabled: null };
  await db.insert(webhookAttempts).values({
    deliveryId: outcome.deliveryId,
    attempt: outcome.attempt,
    startedAt: outcome.startedAt,
    statusCode: outcome.statusCode,
    latencyMs: outcome.latencyMs,
    error: outcome.error,
    responseExcerpt: outcome.responseExcerpt,
  });
  if (outcome.status === "pending") return { recorded: true, disabled: null };
  return { recorded: true, disabled: await countDelivery(db, claimed.endpointId, outcome.status, disableAfter) };
}

interface ClaimRow {
  id: string;
  endpoint_id: string;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: string | Date | null;
  event_id: string;
  payload: EventPayload | string;
  attempts: number;
  round_attempts: number;
}

function claimOf(row: ClaimRow, now: Date): ClaimedDelivery {
  const overlapEnds = row.previous_secret_expires_at ? new Date(row.previous_secret_expires_at) : null;
  const previous = row.previous_secret && overlapEnds && overlapEnds > now ? [row.previous_secret] : [];
  return {
    id: row.id,
    endpointId: row.endpoint_id,
    url: row.url,
    secrets: [row.secret, ...previous],
    eventId: row.event_id,
    payload: typeof row.payload === "string" ? (JSON.parse(row.payload) as EventPayload) : row.payload,
    attempt: Number(row.attempts),
    roundAttempt: Number(row.round_attempts),
  };
}
