import { randomBytes } from "node:crypto";
import pLimit from "p-limit";
import type { NewAdminAction } from "../admin/store.ts";
import { type Clock, systemClock } from "../clock.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import { type EventType, isEventType } from "../events/events.ts";
import { MAX_PAGE_SIZE } from "../limits.ts";
import { isUuid } from "../validate.ts";
import { parseEndpointUrl, type ResolveHost, resolveTarget } from "./endpoint-url.ts";
import { type RetryPolicy, retryDelayMs } from "./retry-policy.ts";
import type { AttemptOutcome, ClaimedDelivery, WebhookStore } from "./store.ts";

// Sends one signed attempt (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature
// with one signature per secret), connecting to exactly `address`. Implemented at the edge.
export interface WebhookSender {
  send(request: {
    url: URL;
    address: string;
    eventId: string;
    timestamp: Date;
    body: string;
    secrets: string[];
    timeoutMs: number;
  }): Promise<{ statusCode: number | null; error: string | null; responseExcerpt: string | null }>;
}

export interface WebhookSettings {
  // Development and tests: private addresses and plain http allowed.
  allowPrivate: boolean;
  retry: RetryPolicy;
  timeoutMs: number;
  // Failed deliveries (every attempt used) in a row that disable an endpoint.
  disableAfterFailedDeliveries: number;
  // How long the secret a rotation replaces keeps signing beside the new one.
  rotationOverlapMs: number;
  // Deliveries one worker pass claims, and sends at once.
  batchSize: number;
  concurrency: number;
}

export interface AdminActor {
  actorId: string;
  requestId?: string | null;
}

export const MAX_ENDPOINT_EVENTS = 64;
const ERROR_MAX = 500;

export type WebhookService = ReturnType<typeof createWebhookService>;

// Outbound webhooks: endpoints registered by admins (audited), and the worker that delivers the
// outbox's events to them at least once, with retries, a log and automatic disabling.
export function createWebhookService(deps: {
  store: WebhookStore;
  sender: WebhookSender;
  resolve: ResolveHost;
  settings: WebhookSettings;
  clock?: Clock;
}) {
  const { store, sender, settings } = deps;
  const clock = deps.clock ?? systemClock;
  const network = { allowPrivate: settings.allowPrivate, resolve: deps.resolve };

  const audited = async <T>(
    actor: AdminActor,
    action: string,
    work: (webhooks: WebhookStore) => Promise<T & { endpointId: string; detail?: Record<string, unknown> }>,
  ) =>
    store.transaction(async (tx) => {
      const result = await work(tx.webhooks);
      await tx.admin.insertAction(auditRow(actor.actorId, action, actor.requestId ?? null, result));
      return result;
    });

  const existing = async (id: string) => {
    const endpoint = isUuid(id) ? await store.findEndpoint(id) : null;
    if (!endpoint) throw new NotFoundError("webhook endpoint");
    return endpoint;
  };

  async function createEndpoint(input: { url: string; events: string[] }, actor: AdminActor) {
    const events = checkedEvents(input.events);
    // At registration, and again at every delivery (the name may resolve elsewhere by then).
    await resolveTarget(parseEndpointUrl(input.url, network), network);
    const secret = newSecret();
    const { endpoint } = await audited(actor, "webhook_endpoint.created", async (webhooks) => {
      const created = await webhooks.insertEndpoint({ url: input.url, events, secret, createdBy: actor.actorId });
      return { endpoint: created, endpointId: created.id, detail: { host: hostOf(created.url), events } };
    });
    return { endpoint, secret };
  }

  async function rotateSecret(id: string, actor: AdminActor) {
    await existing(id);
    const secret = newSecret();
    const until = new Date(clock.now().getTime() + settings.rotationOverlapMs);
    const { endpoint } = await audited(actor, "webhook_endpoint.secret_rotated", async (webhooks) => {
      const rotated = await webhooks.rotateSecret(id, secret, until);
      if (!rotated) throw new NotFoundError("webhook endpoint");
      return { endpoint: rotated, endpointId: id, detail: { previousSecretExpiresAt: until.toISOString() } };
    });
    return { endpoint, secret };
  }

  async function setStatus(id: string, status: "enabled" | "disabled", actor: AdminActor) {
    await existing(id);
    const { endpoint } = await audited(actor, `webhook_endpoint.${status}`, async (webhooks) => {
      const changed = await webhooks.setStatus(id, status, status === "disabled" ? "disabled by an admin" : null);
      if (!changed) throw new NotFoundError("webhook endpoint");
      return { endpoint: changed, endpointId: id };
    });
    return endpoint;
  }

  async function deleteEndpoint(id: string, actor: AdminActor) {
    const endpoint = await existing(id);
    await audited(actor, "webhook_endpoint.deleted", async (webhooks) => {
      if (!(await webhooks.deleteEndpoint(id))) throw new NotFoundError("webhook endpoint");
      return { endpointId: id, detail: { host: hostOf(endpoint.url) } };
    });
  }

  async function replay(deliveryId: string, actor: AdminActor) {
    const found = isUuid(deliveryId) ? await store.findDelivery(deliveryId) : null;
    if (!found) throw new NotFoundError("webhook delivery");
    const { delivery } = await audited(actor, "webhook_delivery.replayed", async (webhooks) => {
      const replayed = await webhooks.replayDelivery(deliveryId, clock.now());
      if (!replayed) throw new NotFoundError("webhook delivery");
      return { delivery: replayed, endpointId: replayed.endpointId, detail: { deliveryId, eventId: replayed.eventId } };
    });
    return delivery;
  }

  async function listDeliveries(endpointId: string, limit = 50) {
    await existing(endpointId);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
      throw new InvalidInputError(`limit must be from 1 to ${MAX_PAGE_SIZE}`);
    }
    return store.listDeliveries(endpointId, limit);
  }

  // One attempt: the URL checked and resolved again now (DNS rebinding), the connection made to
  // that address, the outcome and the next step decided by the retry policy.
  async function attempt(claim: ClaimedDelivery): Promise<AttemptOutcome> {
    const startedAt = clock.now();
    const started = performance.now();
    let reply: Awaited<ReturnType<WebhookSender["send"]>>;
    try {
      const target = parseEndpointUrl(claim.url, network);
      const address = await resolveTarget(target, network);
      reply = await sender.send({
        url: target.url,
        address,
        eventId: claim.eventId,
        timestamp: startedAt,
        body: JSON.stringify(claim.payload),
        secrets: claim.secrets,
        timeoutMs: settings.timeoutMs,
      });
    } catch (error) {
      const message = error instanceof InvalidInputError ? `refused: ${error.message}` : "delivery failed";
      reply = { statusCode: null, error: message, responseExcerpt: null };
    }
    const ok = reply.statusCode !== null && reply.statusCode >= 200 && reply.statusCode < 300;
    const delay = ok ? null : retryDelayMs(claim.roundAttempt, settings.retry);
    return {
      deliveryId: claim.id,
      attempt: claim.attempt,
      startedAt,
      statusCode: reply.statusCode,
      latencyMs: Math.round(performance.now() - started),
      error: reply.error?.slice(0, ERROR_MAX) ?? null,
      responseExcerpt: reply.responseExcerpt,
      status: ok ? "succeeded" : delay === null ? "failed" : "pending",
      nextAttemptAt: delay === null ? null : new Date(clock.now().getTime() + delay),
    };
  }

  // One worker pass: claims due deliveries (once across all instances), sends them, records each
  // attempt. An instance that dies mid-attempt leaves its claim to expire: the delivery is tried
  // again (at least once; receivers deduplicate on webhook-id).
  async function deliverDue(): Promise<{ claimed: number; succeeded: number }> {
    const now = clock.now();
    // The claim lasts until the batch's last delivery is sent: it waits for the waves before it
    // (batchSize / concurrency), each attempt a lookup and a send of up to the timeout each.
    const waves = Math.ceil(settings.batchSize / settings.concurrency);
    const lease = new Date(now.getTime() + waves * 2 * settings.timeoutMs + 10_000);
    const claimed = await store.claimDue(now, settings.batchSize, lease);
    const limit = pLimit(settings.concurrency);
    const outcomes = await Promise.all(claimed.map((claim) => limit(() => attempt(claim).then(record))));
    return { claimed: claimed.length, succeeded: outcomes.filter((status) => status === "succeeded").length };
  }

  async function record(outcome: AttemptOutcome) {
    // The audit row and every admin's alert mail commit with the disabling, or none of them.
    await store.transaction(async (tx) => {
      const { disabled } = await tx.webhooks.recordAttempt(outcome, settings.disableAfterFailedDeliveries);
      if (!disabled) return;
      const facts = { endpointHost: hostOf(disabled.url), failedDeliveries: disabled.failedDeliveries };
      await tx.admin.insertAction(
        auditRow(null, "webhook_endpoint.auto_disabled", null, {
          endpointId: disabled.id,
          detail: { host: facts.endpointHost, failedDeliveries: facts.failedDeliveries },
        }),
      );
      // One alert per disabling: the delivery that tipped it fails for good only once.
      await tx.webhooks.queueDisabledAlerts(`webhook-disabled:${disabled.id}:${outcome.deliveryId}`, facts);
    });
    return outcome.status;
  }

  return {
    createEndpoint,
    listEndpoints: () => store.listEndpoints(MAX_PAGE_SIZE),
    rotateSecret,
    disable: (id: string, actor: AdminActor) => setStatus(id, "disabled", actor),
    enable: (id: string, actor: AdminActor) => setStatus(id, "enabled", actor),
    deleteEndpoint,
    listDeliveries,
    replay,
    deliverDue,
  };
}

function checkedEvents(events: string[]): EventType[] {
  if (events.length === 0 || events.length > MAX_ENDPOINT_EVENTS) {
    throw new InvalidInputError(`events must list 1 to ${MAX_ENDPOINT_EVENTS} event types`);
  }
  const unknown = events.find((event) => !isEventType(event));
  if (unknown !== undefined) throw new InvalidInputError("events lists an unknown event type");
  return [...new Set(events as EventType[])];
}

// Audit rows name the host only: a URL's path or query may carry a token.
const hostOf = (url: string) => new URL(url).host;

// Standard Webhooks secrets: whsec_ and base64 of 24 to 64 random bytes.
const newSecret = () => `whsec_${randomBytes(32).toString("base64")}`;

function auditRow(
  actorId: string | null,
  action: string,
  requestId: string | null,
  subject: { endpointId: string; detail?: Record<string, unknown> },
): NewAdminAction {
  return {
    actorId,
    targetUserId: null,
    action,
    amount: null,
    reason: null,
    requestId,
    balanceBefore: null,
    balanceAfter: null,
    adjustmentRequestId: null,
    detail: { endpointId: subject.endpointId, ...subject.detail },
  };
}
