import { errorResponse } from "./openapi-errors.ts";

// Routes under /api/v1 that the server serves itself, not through a procedure: the live balance
// (apps/server/src/balance-events.ts) and this document (apps/server/src/app.ts).

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI path items as JSON
type Json = any;

export const BALANCE_EVENTS_DOC_PATH = "/me/events";
export const OPENAPI_DOC_PATH = "/openapi.json";

const balanceEvent = {
  type: "object",
  required: ["balance", "transactionId"],
  additionalProperties: false,
  properties: {
    balance: { type: "integer", description: "The balance after the ledger row" },
    transactionId: {
      type: ["string", "null"],
      format: "uuid",
      description: "The ledger row; null on connect for an account with no row yet",
    },
  },
};

export function serverRoutesUnderApi(): Record<string, Json> {
  return {
    [BALANCE_EVENTS_DOC_PATH]: {
      get: {
        operationId: "balance-events",
        tags: ["credits"],
        summary: "My balance, live (server-sent events)",
        description:
          "A `text/event-stream` of `balance` events, each `data: {balance, transactionId}` with the ledger " +
          "row's seq as its `id` (monotonic per user). On connect the current balance is sent, unless " +
          "`Last-Event-ID` already names the latest row; a comment line every few seconds keeps the stream " +
          "open, and it ends with the session. Session cookie only (an API key reads the balance instead). " +
          "Open streams are capped per user and per server: beyond them, a 429 with `Retry-After`.",
        security: [{ session: [] }],
        parameters: [
          {
            name: "Last-Event-ID",
            in: "header",
            required: false,
            description: "The last event id seen (sent by EventSource on reconnect); anything not a seq is ignored",
            schema: { type: "string" },
          },
        ],
        responses: {
          "200": {
            description: "The stream",
            content: {
              "text/event-stream": {
                schema: { type: "string", description: `Events whose data is ${JSON.stringify(balanceEvent)}` },
                example:
                  'event: balance\nid: 42\ndata: {"balance":120,"transactionId":"6f1c1f9e-8a5e-4c2b-9d43-2d7f1f3a0b11"}\n\n',
              },
            },
          },
          "401": errorResponse("401", ["UNAUTHENTICATED"]),
          "429": errorResponse("429", ["RATE_LIMITED"]),
          "500": errorResponse("500", ["INTERNAL"]),
          "503": errorResponse("503", ["UNAVAILABLE"]),
        },
      },
    },
    [OPENAPI_DOC_PATH]: {
      get: {
        operationId: "openapi-document",
        tags: ["operations"],
        summary: "This document (OpenAPI 3.1)",
        description: "The reference page is at /api/docs; the committed copy is docs/openapi/v1.json.",
        security: [],
        responses: {
          "200": {
            description: "The OpenAPI document",
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  required: ["openapi", "info", "paths"],
                  properties: { openapi: { const: "3.1.0" } },
                },
                example: { openapi: "3.1.0", info: { title: "Credits API", version: "1.0.0" }, paths: {} },
              },
            },
          },
          "500": errorResponse("500", ["INTERNAL"]),
        },
      },
    },
  };
}
