import { type Clock, systemClock } from "../clock.ts";
import { createDeliveryWorker } from "./delivery.ts";
import type { ResolveHost } from "./endpoint-url.ts";
import { createEndpointAdmin } from "./endpoints.ts";
import type { RetryPolicy } from "./retry-policy.ts";
import type { WebhookStore } from "./store.ts";

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
  // The address lookup, and the exchange, of one attempt (each).
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

export interface WebhookDeps {
  store: WebhookStore;
  sender: WebhookSender;
  resolve: ResolveHost;
  settings: WebhookSettings;
  clock?: Clock;
}

// What both halves of the service work with.
export interface WebhookContext {
  store: WebhookStore;
  sender: WebhookSender;
  settings: WebhookSettings;
  clock: Clock;
  network: { allowPrivate: boolean; resolve: ResolveHost };
}

export type WebhookService = ReturnType<typeof createWebhookService>;

// Outbound webhooks: endpoints registered by admins (audited, endpoints.ts), and the worker that
// delivers the outbox's events to them at least once, with retries, a log and automatic disabling
// (delivery.ts).
export function createWebhookService(deps: WebhookDeps) {
  const context: WebhookContext = {
    store: deps.store,
    sender: deps.sender,
    settings: deps.settings,
    clock: deps.clock ?? systemClock,
    network: { allowPrivate: deps.settings.allowPrivate, resolve: deps.resolve },
  };
  return { ...createEndpointAdmin(context), ...createDeliveryWorker(context) };
}
