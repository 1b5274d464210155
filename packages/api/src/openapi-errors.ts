import { httpStatusOf, type PublicErrorCode } from "./errors.ts";
import type { Access } from "./trpc.ts";

// Codes the server answers around the procedures: the CSRF guard (apps/server/src/security.ts).
export type HttpErrorCode = PublicErrorCode | "CSRF";

export const statusOfCode = (code: HttpErrorCode): number => (code === "CSRF" ? 403 : httpStatusOf(code));

export interface OperationFacts {
  method: string;
  access: Access | undefined;
  takesInput: boolean;
  // The input comes in a JSON body (POST, PUT, PATCH, DELETE), not the query string.
  readsBody: boolean;
  // What the procedure itself may answer (meta.errors).
  declared: readonly PublicErrorCode[];
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

// Every error code an operation can answer: what the procedure declares, plus what its input,
// method and access bring through the server and the base procedures (trpc.ts, rest-adapter.ts).
export function errorCodesOf(op: OperationFacts): HttpErrorCode[] {
  const codes = new Set<HttpErrorCode>(op.declared);
  if (op.takesInput) codes.add("INVALID_INPUT");
  // The body limit runs before routing, on every request that may carry a body.
  if (op.readsBody) codes.add("PAYLOAD_TOO_LARGE");
  if (op.readsBody && op.takesInput) codes.add("UNSUPPORTED_MEDIA_TYPE");
  // A browser's cross-site write without an API key, whatever the procedure.
  if (!SAFE_METHODS.has(op.method)) codes.add("CSRF");
  if (op.access !== "public") codes.add("UNAUTHENTICATED");
  if (op.access !== "public" && op.access !== "user") codes.add("FORBIDDEN");
  codes.add("INTERNAL");
  codes.add("UNAVAILABLE");
  return [...codes];
}

// The codes grouped by the status they answer with, statuses in order.
export function byStatus(codes: readonly HttpErrorCode[]): [string, HttpErrorCode[]][] {
  const groups = new Map<number, HttpErrorCode[]>();
  for (const code of codes) {
    const status = statusOfCode(code);
    groups.set(status, [...(groups.get(status) ?? []), code]);
  }
  return [...groups.entries()].sort(([a], [b]) => a - b).map(([status, list]) => [String(status), list.sort()]);
}

const DESCRIPTIONS: Record<string, string> = {
  "400": "The input is invalid (`fields` names each problem)",
  "401": "No valid credential: sign in, or send a valid API key",
  "402": "Not enough credits (the balance is never disclosed)",
  "403": "The credential may not do this",
  "404": "Not found (or not yours)",
  "409": "Conflicts with the current state or an earlier request with the same idempotency key",
  "413": "The request body is over the size limit",
  "415": "The body is not application/json",
  "429": "Too many requests: retry after `Retry-After` seconds",
  "500": "Internal error (the body carries only a requestId)",
  "503": "Briefly unavailable: retry after `Retry-After` seconds",
};

// One error response: the shared shape, with `code` narrowed to what this status can carry here.
export function errorResponse(status: string, codes: readonly string[]) {
  const retry = status === "429" || status === "503";
  return {
    description: DESCRIPTIONS[status] ?? "Error",
    ...(retry
      ? {
          headers: {
            "Retry-After": {
              description: "Seconds to wait before trying again",
              schema: { type: "integer", minimum: 0 },
              required: true,
            },
          },
        }
      : {}),
    content: {
      "application/json": {
        schema: {
          allOf: [
            { $ref: "#/components/schemas/Error" },
            { type: "object", properties: { error: { type: "object", properties: { code: { enum: codes } } } } },
          ],
        },
        example: { error: { code: codes[0], message: DESCRIPTIONS[status] ?? "error" } },
      },
    },
  };
}
