import { randomBytes } from "node:crypto";
import { decodeTimeCursor, encodeTimeCursor } from "../cursor.ts";
import { InvalidInputError, InvalidStateError, NotFoundError } from "../errors.ts";
import { type EventType, isEventType } from "../events/events.ts";
import { MAX_PAGE_SIZE } from "../limits.ts";
import { isUuid, pageLimit } from "../validate.ts";
import { auditRow, hostOf, type WebhookAuditAction } from "./audit.ts";
import { parseEndpointUrl, resolveTarget } from "./endpoint-url.ts";
import type { WebhookStore } from "./store.ts";
import type { AdminActor, WebhookContext } from "./webhooks.ts";

export const MAX_ENDPOINT_EVENTS = 64;
export const DEFAULT_DELIVERY_PAGE = 50;

// The admin side of outbound webhooks: every change to an endpoint is audited in its transaction.
export function createEndpointAdmin(context: WebhookContext) {
  return {
    createEndpoint: (input: { url: string; events: string[] }, actor: AdminActor) =>
      createEndpoint(context, input, actor),
    listEndpoints: () => context.store.listEndpoints(MAX_PAGE_SIZE),
    rotateSecret: (id: string, actor: AdminActor) => rotateSecret(context, id, actor),
    disable: (id: string, actor: AdminActor) => setStatus(context, id, "disabled", actor),
    enable: (id: string, actor: AdminActor) => setStatus(context, id, "enabled", actor),
    deleteEndpoint: (id: string, actor: AdminActor) => deleteEndpoint(context, id, actor),
    listDeliveries: (endpointId: string, page: { limit?: number; cursor?: string } = {}) =>
      listDeliveries(context, endpointId, page),
    replay: (deliveryId: string, actor: AdminActor) => replay(context, deliveryId, actor),
  };
}

type Subject = { endpointId: string; detail?: Record<string, unknown> };

// The change and its audit row commit together, or neither does.
const audited = <T>(
  { store }: WebhookContext,
  actor: AdminActor,
  action: WebhookAuditAction,
  work: (webhooks: WebhookStore) => Promise<T & Subject>,
) =>
  store.transaction(async (tx) => {
    const result = await work(tx.webhooks);
    await tx.admin.insertAction(auditRow(actor.actorId, action, actor.requestId ?? null, result));
    return result;
  });

async function existing({ store }: WebhookContext, id: string) {
  const endpoint = isUuid(id) ? await store.findEndpoint(id) : null;
  if (!endpoint) throw new NotFoundError("webhook endpoint");
  return endpoint;
}

async function createEndpoint(context: WebhookContext, input: { url: string; events: string[] }, actor: AdminActor) {
  const events = checkedEvents(input.events);
  // At registration, and again at every delivery (the name may resolve elsewhere by then).
  await resolveTarget(parseEndpointUrl(input.url, context.network), context.network);
  const secret = newSecret();
  const { endpoint } = await audited(context, actor, "webhook_endpoint.created", async (webhooks) => {
    const created = await webhooks.insertEndpoint({ url: input.url, events, secret, createdBy: actor.actorId });
    return { endpoint: created, endpointId: created.id, detail: { host: hostOf(created.url), events } };
  });
  return { endpoint, secret };
}

async function rotateSecret(context: WebhookContext, id: string, actor: AdminActor) {
  await existing(context, id);
  const secret = newSecret();
  const until = new Date(context.clock.now().getTime() + context.settings.rotationOverlapMs);
  const { endpoint } = await audited(context, actor, "webhook_endpoint.secret_rotated", async (webhooks) => {
    const rotated = await webhooks.rotateSecret(id, secret, until);
    if (!rotated) throw new NotFoundError("webhook endpoint");
    return { endpoint: rotated, endpointId: id, detail: { previousSecretExpiresAt: until.toISOString() } };
  });
  return { endpoint, secret };
}

async function setStatus(context: WebhookContext, id: string, status: "enabled" | "disabled", actor: AdminActor) {
  await existing(context, id);
  const { endpoint } = await audited(context, actor, `webhook_endpoint.${status}`, async (webhooks) => {
    const changed = await webhooks.setStatus(id, status, status === "disabled" ? "disabled by an admin" : null);
    if (!changed) throw new NotFoundError("webhook endpoint");
    return { endpoint: changed, endpointId: id };
  });
  return endpoint;
}

async function deleteEndpoint(context: WebhookContext, id: string, actor: AdminActor) {
  const endpoint = await existing(context, id);
  await audited(context, actor, "webhook_endpoint.deleted", async (webhooks) => {
    if (!(await webhooks.deleteEndpoint(id))) throw new NotFoundError("webhook endpoint");
    return { endpointId: id, detail: { host: hostOf(endpoint.url) } };
  });
}

// A new round for a delivery, unless a worker is sending it right now: clearing that worker's
// claim would let another instance claim and send it at the same time.
async function replay(context: WebhookContext, deliveryId: string, actor: AdminActor) {
  const found = isUuid(deliveryId) ? await context.store.findDelivery(deliveryId) : null;
  if (!found) throw new NotFoundError("webhook delivery");
  const { delivery } = await audited(context, actor, "webhook_delivery.replayed", async (webhooks) => {
    const replayed = await webhooks.replayDelivery(deliveryId, context.clock.now());
    if (replayed === "in-flight") {
      throw new InvalidStateError("this delivery is being sent right now: replay it once this attempt is logged");
    }
    if (!replayed) throw new NotFoundError("webhook delivery");
    return { delivery: replayed, endpointId: replayed.endpointId, detail: { deliveryId, eventId: replayed.eventId } };
  });
  return delivery;
}

// Newest first, a page at a time (keyset on creation time and id).
async function listDeliveries(
  context: WebhookContext,
  endpointId: string,
  { cursor, ...query }: { limit?: number; cursor?: string },
) {
  await existing(context, endpointId);
  const limit = pageLimit(query.limit, DEFAULT_DELIVERY_PAGE);
  const before = cursor ? decodeTimeCursor(cursor) : null;
  const rows = await context.store.listDeliveries(endpointId, limit + 1, before);
  const deliveries = rows.slice(0, limit);
  const last = deliveries.at(-1);
  const nextCursor = rows.length > limit && last ? encodeTimeCursor({ at: last.createdAt, id: last.id }) : null;
  return { deliveries, nextCursor };
}

function checkedEvents(events: string[]): EventType[] {
  if (events.length === 0 || events.length > MAX_ENDPOINT_EVENTS) {
    throw new InvalidInputError(`events must list 1 to ${MAX_ENDPOINT_EVENTS} event types`);
  }
  const unknown = events.find((event) => !isEventType(event));
  if (unknown !== undefined) throw new InvalidInputError("events lists an unknown event type");
  return [...new Set(events as EventType[])];
}

// Standard Webhooks secrets: whsec_ and base64 of 24 to 64 random bytes.
const newSecret = () => `whsec_${randomBytes(32).toString("base64")}`;
