import type {
  ClaimedDelivery,
  EventPayload,
  EventType,
  WebhookAttempt,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookStore,
} from "@credits/core";
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import { createAdminStore } from "./admin-store.ts";
import { type Database, rowsOf } from "./client.ts";
import { translated, translatingErrors } from "./errors.ts";
import { outboxEvents, webhookAttempts, webhookDeliveries, webhookEndpoints } from "./schema.ts";

// Never the secrets: they leave the table only in a claim, to sign.
const endpointColumns = {
  id: webhookEndpoints.id,
  url: webhookEndpoints.url,
  events: webhookEndpoints.events,
  status: webhookEndpoints.status,
  disabledReason: webhookEndpoints.disabledReason,
  failedDeliveries: webhookEndpoints.failedDeliveries,
  previousSecretExpiresAt: webhookEndpoints.previousSecretExpiresAt,
  createdAt: webhookEndpoints.createdAt,
};
type EndpointRow = { [K in keyof typeof endpointColumns]: unknown } & { events: string[] };
const endpointOf = (row: EndpointRow) => row as unknown as WebhookEndpoint;

const deliveryColumns = {
  id: webhookDeliveries.id,
  endpointId: webhookDeliveries.endpointId,
  eventId: webhookDeliveries.eventId,
  eventType: outboxEvents.type,
  status: webhookDeliveries.status,
  attempts: webhookDeliveries.attempts,
  nextAttemptAt: webhookDeliveries.nextAttemptAt,
  lastStatusCode: webhookDeliveries.lastStatusCode,
  lastError: webhookDeliveries.lastError,
  deliveredAt: webhookDeliveries.deliveredAt,
  createdAt: webhookDeliveries.createdAt,
};

export function createWebhookStore(db: Database): WebhookStore {
  const withLogs = async (
    rows: (Omit<WebhookDelivery, "log" | "eventType"> & { eventType: string })[],
  ): Promise<WebhookDelivery[]> => {
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
    return rows.map((row) => ({
      ...row,
      eventType: row.eventType as EventType,
      nextAttemptAt: row.status === "pending" ? row.nextAttemptAt : null,
      log: attempts
        .filter((a) => a.deliveryId === row.id)
        .map(
          ({ attempt, startedAt, statusCode, latencyMs, error, responseExcerpt }): WebhookAttempt => ({
            attempt,
            startedAt,
            statusCode,
            latencyMs,
            error,
            responseExcerpt,
          }),
        ),
    }));
  };
  const deliveries = () =>
    db
      .select(deliveryColumns)
      .from(webhookDeliveries)
      .innerJoin(outboxEvents, eq(outboxEvents.id, webhookDeliveries.eventId));

  const store: WebhookStore = {
    transaction: (work) =>
      translated(() => db.transaction((tx) => work({ webhooks: createWebhookStore(tx), admin: createAdminStore(tx) }))),

    insertEndpoint: async (endpoint) => {
      const [row] = await db.insert(webhookEndpoints).values(endpoint).returning(endpointColumns);
      if (!row) throw new Error("webhook endpoint not inserted");
      return endpointOf(row);
    },

    listEndpoints: async (limit) =>
      (
        await db.select(endpointColumns).from(webhookEndpoints).orderBy(desc(webhookEndpoints.createdAt)).limit(limit)
      ).map(endpointOf),

    findEndpoint: async (id) => {
      const [row] = await db.select(endpointColumns).from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
      return row ? endpointOf(row) : null;
    },

    rotateSecret: async (id, secret, previousExpiresAt) => {
      const [row] = await db
        .update(webhookEndpoints)
        .set({
          previousSecret: sql`${webhookEndpoints.secret}`,
          previousSecretExpiresAt: previousExpiresAt,
          secret,
          updatedAt: sql`now()`,
        })
        .where(eq(webhookEndpoints.id, id))
        .returning(endpointColumns);
      return row ? endpointOf(row) : null;
    },

    setStatus: async (id, status, reason) => {
      const [row] = await db
        .update(webhookEndpoints)
        .set({
          status,
          disabledReason: reason,
          ...(status === "enabled" ? { failedDeliveries: 0 } : {}),
          updatedAt: sql`now()`,
        })
        .where(eq(webhookEndpoints.id, id))
        .returning(endpointColumns);
      return row ? endpointOf(row) : null;
    },

    deleteEndpoint: async (id) =>
      (await db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id)).returning({ id: webhookEndpoints.id }))
        .length === 1,

    listDeliveries: async (endpointId, limit) =>
      withLogs(
        await deliveries()
          .where(eq(webhookDeliveries.endpointId, endpointId))
          .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
          .limit(limit),
      ),

    findDelivery: async (id) => {
      const [row] = await withLogs(await deliveries().where(eq(webhookDeliveries.id, id)));
      return row ?? null;
    },

    replayDelivery: async (id, now) => {
      const [row] = await db
        .update(webhookDeliveries)
        .set({ status: "pending", roundAttempts: 0, nextAttemptAt: now, lockedUntil: null })
        .where(eq(webhookDeliveries.id, id))
        .returning({ id: webhookDeliveries.id });
      return row ? store.findDelivery(row.id) : null;
    },

    claimDue: async (now, limit, lockedUntil) => {
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
    },

    recordAttempt: async (outcome, disableAfter) => {
      const [claimed] = await db
        .update(webhookDeliveries)
        .set({
          status: outcome.status,
          nextAttemptAt: outcome.nextAttemptAt ?? sql`${webhookDeliveries.nextAttemptAt}`,
          lockedUntil: null,
          lastStatusCode: outcome.statusCode,
          lastError: outcome.error,
          deliveredAt: outcome.status === "succeeded" ? outcome.startedAt : null,
        })
        .where(
          and(
            eq(webhookDeliveries.id, outcome.deliveryId),
            eq(webhookDeliveries.attempts, outcome.attempt),
            eq(webhookDeliveries.status, "pending"),
          ),
        )
        .returning({ endpointId: webhookDeliveries.endpointId });
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
    },

    queueDisabledAlerts: async (cause, facts) => {
      const queued = await db.execute(sql`
        INSERT INTO mails (cause, template, user_id, data)
        SELECT ${cause} || ':' || u.id, 'endpoint_disabled', u.id, ${JSON.stringify(facts)}::jsonb
          FROM users u WHERE u.role = 'admin' AND u.email IS NOT NULL
        ON CONFLICT (cause) DO NOTHING
        RETURNING id`);
      return rowsOf(queued).length;
    },
  };
  return translatingErrors(store);
}

// A success resets the endpoint's count of failed deliveries; a delivery failed for good adds one,
// and the one that reaches `disableAfter` disables an enabled endpoint (returned only then).
async function countDelivery(
  db: Database,
  endpointId: string,
  status: "succeeded" | "failed",
  disableAfter: number,
): Promise<WebhookEndpoint | null> {
  const e = webhookEndpoints;
  if (status === "succeeded") {
    await db.update(e).set({ failedDeliveries: 0 }).where(eq(e.id, endpointId));
    return null;
  }
  const [counted] = await db
    .update(e)
    .set({ failedDeliveries: sql`${e.failedDeliveries} + 1` })
    .where(eq(e.id, endpointId))
    .returning({ failedDeliveries: e.failedDeliveries, status: e.status });
  if (!counted || counted.status !== "enabled" || counted.failedDeliveries < disableAfter) return null;
  const reason = `disabled after ${counted.failedDeliveries} failed deliveries in a row`;
  const [disabled] = await db
    .update(e)
    .set({ status: "disabled", disabledReason: reason, updatedAt: sql`now()` })
    .where(and(eq(e.id, endpointId), eq(e.status, "enabled")))
    .returning(endpointColumns);
  return disabled ? endpointOf(disabled) : null;
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
