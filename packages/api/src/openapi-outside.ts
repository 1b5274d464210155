import { type EventOutcome, eventSchemas, eventTypes } from "@credits/core";
import type { OpenAPIObject } from "trpc-to-openapi";
import { z } from "zod";
import { errorResponse } from "./openapi-errors.ts";

// The parts of the document that are not tRPC procedures: tags, the server's own routes outside
// /api/v1 (Stripe's webhook receiver, the health checks) and the outbound webhook events.

export const API_TAGS = [
  { name: "auth", description: "Accounts and sessions: sign up, log in, log out" },
  { name: "credits", description: "Balances, history, spending and grants" },
  { name: "holds", description: "Reserve credits for a long job, then capture or release them" },
  { name: "payments", description: "Buying credit packs through Stripe Checkout, and my payments" },
  { name: "packages", description: "The packs on sale" },
  { name: "alerts", description: "Low-balance alerts" },
  { name: "auto top-up", description: "Buy a pack with the saved card when the balance falls below a threshold" },
  { name: "gdpr", description: "Export and erase my data" },
  { name: "admin", description: "Administration: users, adjustments, refunds, packs, API keys, webhooks, audit" },
  { name: "webhooks", description: "Outbound webhook endpoints and their deliveries (events: see `webhooks`)" },
  { name: "reconciliation", description: "Payments checked against Stripe" },
  { name: "operations", description: "This document, the health checks and Stripe's webhook receiver" },
];

type Paths = NonNullable<OpenAPIObject["paths"]>;

const outcomes = ["processed", "duplicate", "ignored"] as const satisfies readonly EventOutcome[];

const status = (value: string) => ({
  type: "object",
  required: ["status"],
  additionalProperties: false,
  properties: { status: { const: value } },
});

// Paths at the server's root, not under /api/v1: each says so with its own `servers`.
export function outsidePaths(origin: string): Paths {
  const servers = [{ url: origin }];
  return {
    "/webhooks/stripe": {
      servers,
      post: {
        operationId: "stripe-webhook",
        tags: ["operations"],
        summary: "Stripe's signed events (for Stripe only)",
        description:
          "The raw body is verified against `Stripe-Signature` before it is read. 2xx tells Stripe to stop " +
          "(processed, a duplicate, or an event we ignore); 5xx asks it to deliver again later. Body cap: 1 MiB.",
        security: [],
        parameters: [{ name: "Stripe-Signature", in: "header" as const, required: true, schema: { type: "string" } }],
        requestBody: { required: true, content: { "application/json": { schema: { type: "object" } } } },
        responses: {
          "200": {
            description: "Received",
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  required: ["received", "outcome"],
                  additionalProperties: false,
                  properties: { received: { const: true }, outcome: { enum: outcomes } },
                },
              },
            },
          },
          "400": errorResponse("400", ["INVALID_SIGNATURE", "INVALID_PAYLOAD"]),
          "413": errorResponse("413", ["PAYLOAD_TOO_LARGE"]),
          "500": errorResponse("500", ["INTERNAL"]),
          "503": errorResponse("503", ["NOT_YET_KNOWN", "UNAVAILABLE"]),
        },
      },
    },
    "/healthz": {
      servers,
      get: {
        operationId: "healthz",
        tags: ["operations"],
        summary: "Liveness: the process answers",
        security: [],
        responses: { "200": { description: "Alive", content: { "application/json": { schema: status("ok") } } } },
      },
    },
    "/readyz": {
      servers,
      get: {
        operationId: "readyz",
        tags: ["operations"],
        summary: "Readiness: the database answers and every migration is applied",
        security: [],
        responses: {
          "200": { description: "Ready", content: { "application/json": { schema: status("ready") } } },
          "503": {
            description: "Not ready (or shutting down)",
            content: { "application/json": { schema: status("unavailable") } },
          },
        },
      },
    },
  };
}

const webhookHeaders = [
  ["webhook-id", "The event's id (evt_…): the same on every delivery of the event; deduplicate on it"],
  ["webhook-timestamp", "Seconds since the epoch when this delivery was signed"],
  ["webhook-signature", "v1,<base64 HMAC-SHA256> with the endpoint's whsec_ secret (Standard Webhooks)"],
] as const;

// The events the platform sends to registered endpoints (Standard Webhooks), from core's one list.
export function outboundWebhooks(): Paths {
  return Object.fromEntries(
    eventTypes.map((type) => {
      const { $schema: _, ...data } = z.toJSONSchema(eventSchemas[type]) as Record<string, unknown>;
      return [
        type,
        {
          post: {
            operationId: `event-${type}`,
            summary: `The ${type} event`,
            tags: ["webhooks"],
            parameters: webhookHeaders.map(([name, description]) => ({
              name,
              in: "header" as const,
              required: true,
              description,
              schema: { type: "string" },
            })),
            requestBody: {
              required: true,
              content: {
                "application/json": {
                  schema: {
                    type: "object",
                    required: ["type", "timestamp", "data"],
                    properties: { type: { const: type }, timestamp: { type: "string", format: "date-time" }, data },
                  },
                },
              },
            },
            responses: { "2XX": { description: "Received; anything else is retried with backoff" } },
          },
        },
      ];
    }),
  );
}
