import { apiKeyScopes } from "@credits/core";
import type { AnyTRPCProcedure } from "@trpc/server";
import {
  acceptsRequestBody,
  generateOpenApiDocument,
  getInputOutputParsers,
  instanceofZodTypeLikeVoid,
  instanceofZodTypeObject,
  type OpenAPIObject,
  type OpenApiMethod,
  unwrapZodType,
} from "trpc-to-openapi";
import type { PublicErrorCode } from "./errors.ts";
import {
  documentIdempotencyHeader,
  documentLocation,
  documentRateLimitHeaders,
  IDEMPOTENCY_FIELD,
} from "./openapi-conventions.ts";
import { byStatus, errorCodesOf, errorResponse } from "./openapi-errors.ts";
import { addExamples } from "./openapi-examples.ts";
import { API_TAGS, outboundWebhooks, outsidePaths } from "./openapi-outside.ts";
import { serverRoutesUnderApi } from "./openapi-server-routes.ts";
import { appRouter } from "./root.ts";
import type { Access } from "./trpc.ts";

// The major version of the REST API: its path prefix (/api/v1) and info.version's major. A
// breaking change to the document (scripts/src/openapi-compat.ts) needs a new one.
export const API_MAJOR_VERSION = 1;

// REST answers 200 on success unless listed here; the server and the document both read this.
export const restSuccessStatus: Record<string, 201 | 204> = {
  "auth.signUp": 201,
  // A new payment (and its Checkout Session) is created.
  "checkout.create": 201,
  "auth.logOut": 204,
  "auth.logOutEverywhere": 204,
};

// Where a 201's created resource is read, under the API's prefix: its Location header. Every 201
// has one (the document generation refuses a 201 without).
export const restCreatedLocation: Record<string, (output: unknown) => string> = {
  // The new account, read as the signed-in user (the response set its session cookie).
  "auth.signUp": () => "/me",
  "checkout.create": (output) => `/payments/${(output as { paymentId: string }).paymentId}`,
};

type Schemas = NonNullable<NonNullable<OpenAPIObject["components"]>["schemas"]>;

// The body of every REST error (apps/server/src/http-errors.ts), in place of tRPC's error shape.
const errorSchema: Schemas[string] = {
  type: "object",
  required: ["error"],
  additionalProperties: false,
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      additionalProperties: false,
      properties: {
        code: { type: "string", description: "Stable, machine-readable; see each response for the codes it can carry" },
        message: { type: "string", description: "For people; may change" },
        fields: {
          type: "object",
          description: "On a 400: the problem with each input field (`_` for the input as a whole)",
          additionalProperties: { type: "array", items: { type: "string" } },
        },
        requestId: { type: "string", description: "On a 5xx: quote it when reporting the problem" },
      },
    },
  },
};

interface ProcedureMeta {
  access?: Access;
  errors?: readonly PublicErrorCode[];
  openapi?: { method: string; path: string };
}
type Operation = {
  security?: unknown;
  tags?: string[];
  responses: Record<string, { description?: string; content?: unknown; headers?: unknown }>;
};

export function openApiDocument(baseUrl: string): OpenAPIObject {
  const doc = generateOpenApiDocument(appRouter, {
    title: "Credits API",
    version: `${API_MAJOR_VERSION}.0.0`,
    baseUrl,
    description:
      "Prepaid credits: balances, spending, holds and purchases. Errors are `{ error: { code, message } }`; " +
      "each operation lists the statuses it can answer and the codes each can carry. " +
      "Every retried write takes an idempotency key (the `idempotencyKey` field or the `Idempotency-Key` header).",
    securitySchemes: {
      apiKey: {
        type: "http",
        scheme: "bearer",
        description: `An API key made by an admin (panel, API or CLI), sent as \`Authorization: Bearer <key>\`. Its scopes: ${apiKeyScopes.join(", ")}; each operation names the one it needs.`,
      },
      session: {
        type: "apiKey",
        in: "cookie",
        name: "session",
        description:
          "The cookie set by sign-up and log-in (named __Host-session in production). Operations for admins say `admin`.",
      },
    },
  });
  // trpc-to-openapi documents every operation as protected, answering 200, with tRPC's error
  // shape; say what the server really does.
  for (const [path, procedure] of Object.entries(appRouter._def.procedures) as unknown as [
    string,
    AnyTRPCProcedure,
  ][]) {
    const meta = procedure._def.meta as ProcedureMeta | undefined;
    if (!meta?.openapi) continue;
    const item = doc.paths?.[meta.openapi.path] as Record<string, Operation> | undefined;
    const operation = item?.[meta.openapi.method.toLowerCase()];
    if (!operation) continue;
    describeOperation(operation, path, procedure, meta);
  }
  const schemas = Object.entries(doc.components?.schemas ?? {}).filter(([name]) => !name.startsWith("error."));
  doc.components = { ...doc.components, schemas: { ...Object.fromEntries(schemas), Error: errorSchema } };
  doc.paths = { ...doc.paths, ...serverRoutesUnderApi(), ...outsidePaths(new URL(baseUrl).origin) };
  doc.tags = API_TAGS;
  doc.webhooks = outboundWebhooks();
  addExamples(doc);
  return doc;
}

function describeOperation(operation: Operation, path: string, procedure: AnyTRPCProcedure, meta: ProcedureMeta) {
  const method = (meta.openapi?.method ?? "GET").toUpperCase();
  operation.security = securityOf(meta.access);
  const status = restSuccessStatus[path];
  const ok = operation.responses["200"];
  if (status && ok) {
    delete operation.responses["200"];
    operation.responses[status] = status === 204 ? { description: "No content" } : ok;
    if (status === 201) documentLocation(operation, path, restCreatedLocation[path]);
  }
  for (const code of Object.keys(operation.responses)) if (/^[45]/.test(code)) delete operation.responses[code];
  const input = unwrapZodType(getInputOutputParsers(procedure).inputParser, true);
  const codes = errorCodesOf({
    method,
    access: meta.access,
    takesInput: !instanceofZodTypeLikeVoid(input),
    readsBody: acceptsRequestBody(method as OpenApiMethod),
    declared: meta.errors ?? [],
  });
  for (const [httpStatus, list] of byStatus(codes)) operation.responses[httpStatus] = errorResponse(httpStatus, list);
  if (instanceofZodTypeObject(input) && Object.hasOwn(input.shape, IDEMPOTENCY_FIELD)) {
    documentIdempotencyHeader(operation);
  }
  if (meta.errors?.includes("RATE_LIMITED")) documentRateLimitHeaders(operation, path, String(status ?? 200));
}

// Who may call: the session cookie (an admin's where `admin`), or an API key with the scope named.
function securityOf(access: Access | undefined): Record<string, string[]>[] {
  if (access === "public") return [];
  if (access === undefined || access === "user") return [{ session: [] }];
  if (access === "admin") return [{ session: ["admin"] }];
  const session = access.orUser ? [{ session: [] }] : access.orAdmin ? [{ session: ["admin"] }] : [];
  return [{ apiKey: [access.scope] }, ...session];
}
