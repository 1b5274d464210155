import { generateOpenApiDocument, type OpenAPIObject } from "trpc-to-openapi";
import { appRouter } from "./root.ts";
import type { Access } from "./trpc.ts";

// REST answers 200 on success unless listed here; the server and the document both read this.
export const restSuccessStatus: Record<string, 201 | 204> = {
  "auth.signUp": 201,
  // A new payment (and its Checkout Session) is created.
  "checkout.create": 201,
  "auth.logOut": 204,
  "auth.logOutEverywhere": 204,
};

type Schemas = NonNullable<NonNullable<OpenAPIObject["components"]>["schemas"]>;

// The body of every REST error (apps/server/src/http-errors.ts), in place of tRPC's error shape.
const errorSchema: Schemas[string] = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: {
        code: { type: "string", example: "INVALID_INPUT" },
        message: { type: "string" },
        fields: { type: "object", additionalProperties: { type: "array", items: { type: "string" } } },
        requestId: { type: "string" },
      },
    },
  },
};

type OpenApiRoute = { method: string; path: string };
type Operation = { security?: unknown; responses: Record<string, { description?: string; content?: unknown }> };

export function openApiDocument(baseUrl: string): OpenAPIObject {
  const doc = generateOpenApiDocument(appRouter, {
    title: "Credits API",
    version: "1.0.0",
    baseUrl,
    description: "Prepaid credits: balances, spending, holds and purchases. Errors are { error: { code, message } }.",
    securitySchemes: {
      apiKey: { type: "http", scheme: "bearer", description: "An API key created by an admin or the CLI" },
      session: {
        type: "apiKey",
        in: "cookie",
        name: "session",
        description: "The cookie set by sign-up and log-in (named __Host-session in production)",
      },
    },
  });
  // trpc-to-openapi documents every operation as protected, answering 200, with tRPC's error
  // shape; say what the server really does.
  for (const [path, procedure] of Object.entries(appRouter._def.procedures)) {
    const meta = (procedure as unknown as { _def: { meta?: { access?: Access; openapi?: OpenApiRoute } } })._def.meta;
    if (!meta?.openapi) continue;
    const item = doc.paths?.[meta.openapi.path] as Record<string, Operation> | undefined;
    const operation = item?.[meta.openapi.method.toLowerCase()];
    if (!operation) continue;
    operation.security = securityOf(meta.access);
    const status = restSuccessStatus[path];
    const ok = operation.responses["200"];
    if (status && ok) {
      delete operation.responses["200"];
      operation.responses[status] = status === 204 ? { description: ok.description ?? "No content" } : ok;
    }
    for (const [code, response] of Object.entries(operation.responses)) {
      if (!/^[45]/.test(code)) continue;
      operation.responses[code] = {
        description: response.description ?? "Error",
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      };
    }
  }
  const schemas = Object.entries(doc.components?.schemas ?? {}).filter(([name]) => !name.startsWith("error."));
  doc.components = { ...doc.components, schemas: { ...Object.fromEntries(schemas), Error: errorSchema } };
  return doc;
}

function securityOf(access: Access | undefined): Record<string, string[]>[] {
  if (access === "public") return [];
  if (access === undefined || access === "user" || access === "admin") return [{ session: [] }];
  return access.orAdmin || access.orUser ? [{ apiKey: [] }, { session: [] }] : [{ apiKey: [] }];
}
