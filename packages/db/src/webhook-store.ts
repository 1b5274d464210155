import type { WebhookStore } from "@credits/core";
import { createAdminStore } from "./admin-store.ts";
import type { Database } from "./client.ts";
import { translated, translatingErrors } from "./errors.ts";
import { createWebhookDeliveryStore } from "./webhook-delivery-store.ts";
import { createWebhookEndpointStore } from "./webhook-endpoint-store.ts";

// Outbound webhooks' tables: endpoints (webhook-endpoint-store.ts) and their deliveries
// (webhook-delivery-store.ts), on one connection or transaction.
export function createWebhookStore(db: Database): WebhookStore {
  return translatingErrors({
    transaction: (work) =>
      translated(() => db.transaction((tx) => work({ webhooks: createWebhookStore(tx), admin: createAdminStore(tx) }))),
    ...createWebhookEndpointStore(db),
    ...createWebhookDeliveryStore(db),
  });
}
