import {
  eventTypes,
  MAX_ENDPOINT_EVENTS,
  MAX_PAGE_SIZE,
  MAX_WEBHOOK_URL_LENGTH,
  type WebhookDelivery,
  type WebhookEndpoint,
} from "@credits/core";
import { z } from "zod";
import type { PublicErrorCode } from "../errors.ts";
import { cursor, uuid } from "../schemas.ts";
import { adminProcedure } from "../trpc.ts";

const eventType = z.enum(eventTypes as [string, ...string[]]);
const iso = (date: Date | null) => date?.toISOString() ?? null;

const endpointInfo = z.object({
  id: z.uuid(),
  url: z.string(),
  events: z.array(z.string()),
  status: z.enum(["enabled", "disabled"]),
  disabledReason: z.string().nullable(),
  failedDeliveries: z.number().int(),
  previousSecretExpiresAt: z.iso.datetime().nullable(),
  createdAt: z.iso.datetime(),
});
const endpointOut = (e: WebhookEndpoint) => ({
  id: e.id,
  url: e.url,
  events: e.events,
  status: e.status,
  disabledReason: e.disabledReason,
  failedDeliveries: e.failedDeliveries,
  previousSecretExpiresAt: iso(e.previousSecretExpiresAt),
  createdAt: e.createdAt.toISOString(),
});

const deliveryInfo = z.object({
  id: z.uuid(),
  endpointId: z.uuid(),
  eventId: z.string(),
  eventType: z.string(),
  status: z.enum(["pending", "succeeded", "failed"]),
  attempts: z.number().int(),
  nextAttemptAt: z.iso.datetime().nullable(),
  lastStatusCode: z.number().int().nullable(),
  deliveredAt: z.iso.datetime().nullable(),
  createdAt: z.iso.datetime(),
  log: z.array(
    z.object({
      attempt: z.number().int(),
      startedAt: z.iso.datetime(),
      statusCode: z.number().int().nullable(),
      latencyMs: z.number().int(),
      error: z.string().nullable(),
      responseExcerpt: z.string().nullable(),
    }),
  ),
});
const deliveryOut = (d: WebhookDelivery) => ({
  id: d.id,
  endpointId: d.endpointId,
  eventId: d.eventId,
  eventType: d.eventType,
  status: d.status,
  attempts: d.attempts,
  nextAttemptAt: iso(d.nextAttemptAt),
  lastStatusCode: d.lastStatusCode,
  deliveredAt: iso(d.deliveredAt),
  createdAt: d.createdAt.toISOString(),
  log: d.log.map((a) => ({ ...a, startedAt: a.startedAt.toISOString() })),
});

const meta = (
  method: "GET" | "POST" | "DELETE",
  path: `/${string}`,
  summary: string,
  errors: readonly PublicErrorCode[] = [],
) => ({ errors, openapi: { method, path, tags: ["admin", "webhooks"], summary } });
const byId = z.strictObject({ id: uuid });
const actorOf = (ctx: { user: { id: string }; requestId: string | null }) => ({
  actorId: ctx.user.id,
  requestId: ctx.requestId,
});

// Outbound webhook endpoints (Standard Webhooks), managed by admins; every change is audited.
export const webhookProcedures = {
  createWebhookEndpoint: adminProcedure
    .meta(meta("POST", "/admin/webhook-endpoints", "Register a webhook endpoint (its secret is shown once)"))
    .input(
      z.strictObject({
        url: z.string().min(1).max(MAX_WEBHOOK_URL_LENGTH),
        events: z.array(eventType).min(1).max(MAX_ENDPOINT_EVENTS),
      }),
    )
    .output(z.object({ id: z.uuid(), secret: z.string(), endpoint: endpointInfo }))
    .mutation(async ({ ctx, input }) => {
      const { endpoint, secret } = await ctx.services.webhooks.createEndpoint(input, actorOf(ctx));
      return { id: endpoint.id, secret, endpoint: endpointOut(endpoint) };
    }),

  listWebhookEndpoints: adminProcedure
    .meta(meta("GET", "/admin/webhook-endpoints", "Webhook endpoints"))
    .input(z.void())
    .output(z.object({ endpoints: z.array(endpointInfo), eventTypes: z.array(z.string()) }))
    .query(async ({ ctx }) => ({
      endpoints: (await ctx.services.webhooks.listEndpoints()).map(endpointOut),
      eventTypes: [...eventTypes],
    })),

  listWebhookDeliveries: adminProcedure
    .meta(
      meta("GET", "/admin/webhook-endpoints/{id}/deliveries", "An endpoint's deliveries and their attempts", [
        "NOT_FOUND",
      ]),
    )
    .input(
      z.strictObject({
        id: uuid,
        limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).optional(),
        cursor: cursor.optional(),
      }),
    )
    .output(z.object({ deliveries: z.array(deliveryInfo), nextCursor: z.string().nullable() }))
    .query(async ({ ctx, input }) => {
      const { deliveries, nextCursor } = await ctx.services.webhooks.listDeliveries(input.id, {
        ...(input.limit ? { limit: input.limit } : {}),
        ...(input.cursor ? { cursor: input.cursor } : {}),
      });
      return { deliveries: deliveries.map(deliveryOut), nextCursor };
    }),

  replayWebhookDelivery: adminProcedure
    .meta(
      meta("POST", "/admin/webhook-deliveries/{id}/replay", "Deliver an event again (same webhook-id)", [
        "NOT_FOUND",
        "INVALID_STATE",
      ]),
    )
    .input(byId)
    .output(z.object({ delivery: deliveryInfo }))
    .mutation(async ({ ctx, input }) => ({
      delivery: deliveryOut(await ctx.services.webhooks.replay(input.id, actorOf(ctx))),
    })),

  rotateWebhookSecret: adminProcedure
    .meta(
      meta(
        "POST",
        "/admin/webhook-endpoints/{id}/rotate-secret",
        "New secret; the old one signs too until the overlap ends",
        ["NOT_FOUND"],
      ),
    )
    .input(byId)
    .output(z.object({ id: z.uuid(), secret: z.string(), endpoint: endpointInfo }))
    .mutation(async ({ ctx, input }) => {
      const { endpoint, secret } = await ctx.services.webhooks.rotateSecret(input.id, actorOf(ctx));
      return { id: endpoint.id, secret, endpoint: endpointOut(endpoint) };
    }),

  disableWebhookEndpoint: adminProcedure
    .meta(meta("POST", "/admin/webhook-endpoints/{id}/disable", "Stop delivering to an endpoint", ["NOT_FOUND"]))
    .input(byId)
    .output(z.object({ endpoint: endpointInfo }))
    .mutation(async ({ ctx, input }) => ({
      endpoint: endpointOut(await ctx.services.webhooks.disable(input.id, actorOf(ctx))),
    })),

  enableWebhookEndpoint: adminProcedure
    .meta(meta("POST", "/admin/webhook-endpoints/{id}/enable", "Deliver to an endpoint again", ["NOT_FOUND"]))
    .input(byId)
    .output(z.object({ endpoint: endpointInfo }))
    .mutation(async ({ ctx, input }) => ({
      endpoint: endpointOut(await ctx.services.webhooks.enable(input.id, actorOf(ctx))),
    })),

  deleteWebhookEndpoint: adminProcedure
    .meta(meta("DELETE", "/admin/webhook-endpoints/{id}", "Delete an endpoint and its delivery log", ["NOT_FOUND"]))
    .input(byId)
    .output(z.object({ deleted: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      await ctx.services.webhooks.deleteEndpoint(input.id, actorOf(ctx));
      return { deleted: true as const };
    }),
};
