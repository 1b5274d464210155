import type { AdminStore } from "../admin/store.ts";
import type { TimeCursor } from "../cursor.ts";
import type { EventPayload, EventType } from "../events/events.ts";

export const endpointStatuses = ["enabled", "disabled"] as const;
export type EndpointStatus = (typeof endpointStatuses)[number];
export const deliveryStatuses = ["pending", "succeeded", "failed"] as const;
export type DeliveryStatus = (typeof deliveryStatuses)[number];

// What admins see of an endpoint: never its secrets.
export interface WebhookEndpoint {
  id: string;
  url: string;
  events: EventType[];
  status: EndpointStatus;
  disabledReason: string | null;
  failedDeliveries: number;
  // Until then the secret a rotation replaced signs too.
  previousSecretExpiresAt: Date | null;
  createdAt: Date;
}

export interface WebhookAttempt {
  attempt: number;
  startedAt: Date;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  responseExcerpt: string | null;
}

export interface WebhookDelivery {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: EventType;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
  log: WebhookAttempt[];
}

// A delivery a worker claimed: everything one attempt needs.
export interface ClaimedDelivery {
  id: string;
  endpointId: string;
  url: string;
  // The current secret first, then the previous one while the rotation's overlap lasts.
  secrets: string[];
  eventId: string;
  payload: EventPayload;
  // This attempt's number (all rounds) and its number in the current round.
  attempt: number;
  roundAttempt: number;
}

export interface AttemptOutcome {
  deliveryId: string;
  attempt: number;
  startedAt: Date;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  responseExcerpt: string | null;
  // succeeded; pending again at nextAttemptAt; or failed for good (the round is used up).
  status: DeliveryStatus;
  nextAttemptAt: Date | null;
}

export interface WebhookStore {
  transaction<T>(work: (tx: { webhooks: WebhookStore; admin: AdminStore }) => Promise<T>): Promise<T>;
  insertEndpoint(endpoint: {
    url: string;
    events: EventType[];
    secret: string;
    createdBy: string;
  }): Promise<WebhookEndpoint>;
  listEndpoints(limit: number): Promise<WebhookEndpoint[]>;
  findEndpoint(id: string): Promise<WebhookEndpoint | null>;
  rotateSecret(id: string, secret: string, previousExpiresAt: Date): Promise<WebhookEndpoint | null>;
  setStatus(id: string, status: EndpointStatus, reason: string | null): Promise<WebhookEndpoint | null>;
  deleteEndpoint(id: string): Promise<boolean>;
  // Newest first (creation time, then id), each with its attempts; after `before` when given.
  listDeliveries(endpointId: string, limit: number, before: TimeCursor | null): Promise<WebhookDelivery[]>;
  findDelivery(id: string): Promise<WebhookDelivery | null>;
  // Starts a new round for a delivery (any status): due at `now`, its attempts kept in the log.
  // "in-flight" (and nothing changed) while a worker's claim on it is live at `now`.
  replayDelivery(id: string, now: Date): Promise<WebhookDelivery | "in-flight" | null>;
  // Due deliveries of enabled endpoints, claimed until `lockedUntil` (FOR UPDATE SKIP LOCKED:
  // concurrent workers, on any instance, never claim the same one).
  claimDue(now: Date, limit: number, lockedUntil: Date): Promise<ClaimedDelivery[]>;
  // Records an attempt if the claim is still this attempt's (a late worker's result is dropped);
  // then, for a delivery failed for good, counts it against its endpoint and disables the endpoint
  // at `disableAfter` failed deliveries in a row (returned), and for a success resets the count.
  recordAttempt(
    outcome: AttemptOutcome,
    disableAfter: number,
  ): Promise<{ recorded: boolean; disabled: WebhookEndpoint | null }>;
  // Queues the `endpoint_disabled` mail to every admin (one per admin and `cause`); how many.
  queueDisabledAlerts(cause: string, facts: { endpointHost: string; failedDeliveries: number }): Promise<number>;
}
