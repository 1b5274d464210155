import type { WebhookEndpoint, WebhookStore } from "@credits/core";
import { and, desc, eq, sql } from "drizzle-orm";
import { type Database, rowsOf } from "./client.ts";
import { webhookEndpoints } from "./schema.ts";

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

type EndpointStore = Pick<
  WebhookStore,
  | "insertEndpoint"
  | "listEndpoints"
  | "findEndpoint"
  | "rotateSecret"
  | "setStatus"
  | "deleteEndpoint"
  | "queueDisabledAlerts"
>;

// The endpoints admins register, and the alert mail when one is disabled.
export function createWebhookEndpointStore(db: Database): EndpointStore {
  const e = webhookEndpoints;
  const updated = async (id: string, set: Parameters<ReturnType<typeof db.update<typeof e>>["set"]>[0]) => {
    const [row] = await db
      .update(e)
      .set({ ...set, updatedAt: sql`now()` })
      .where(eq(e.id, id))
      .returning(endpointColumns);
    return row ? endpointOf(row) : null;
  };
  return {
    insertEndpoint: async (endpoint) => {
      const [row] = await db.insert(e).values(endpoint).returning(endpointColumns);
      if (!row) throw new Error("webhook endpoint not inserted");
      return endpointOf(row);
    },
    listEndpoints: async (limit) =>
      (await db.select(endpointColumns).from(e).orderBy(desc(e.createdAt)).limit(limit)).map(endpointOf),
    findEndpoint: async (id) => {
      const [row] = await db.select(endpointColumns).from(e).where(eq(e.id, id));
      return row ? endpointOf(row) : null;
    },
    rotateSecret: (id, secret, previousExpiresAt) =>
      updated(id, { previousSecret: sql`${e.secret}`, previousSecretExpiresAt: previousExpiresAt, secret }),
    setStatus: (id, status, reason) =>
      updated(id, { status, disabledReason: reason, ...(status === "enabled" ? { failedDeliveries: 0 } : {}) }),
    deleteEndpoint: async (id) => (await db.delete(e).where(eq(e.id, id)).returning({ id: e.id })).length === 1,
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
}

// A success resets the endpoint's count of failed deliveries; a delivery failed for good adds one,
// and the one that reaches `disableAfter` disables an enabled endpoint (returned only then).
export async function countDelivery(
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
  if (counted?.status !== "enabled" || counted.failedDeliveries < disableAfter) return null;
  const reason = `disabled after ${counted.failedDeliveries} failed deliveries in a row`;
  const [disabled] = await db
    .update(e)
    .set({ status: "disabled", disabledReason: reason, updatedAt: sql`now()` })
    .where(and(eq(e.id, endpointId), eq(e.status, "enabled")))
    .returning(endpointColumns);
  return disabled ? endpointOf(disabled) : null;
}
