import { DomainError, type DomainErrorCode, LimitExceededError, RateLimitedError } from "@credits/core";
import { redactText } from "@credits/observability";
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import { ZodError, z } from "zod";

// The stable error codes clients see, for errors that did not start as domain errors.
const publicCodeOf = {
  BAD_REQUEST: "INVALID_INPUT",
  PARSE_ERROR: "INVALID_INPUT",
  UNAUTHORIZED: "UNAUTHENTICATED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  TOO_MANY_REQUESTS: "RATE_LIMITED",
  SERVICE_UNAVAILABLE: "UNAVAILABLE",
  UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  METHOD_NOT_SUPPORTED: "METHOD_NOT_ALLOWED",
  CONFLICT: "CONFLICT",
  INTERNAL_SERVER_ERROR: "INTERNAL",
} as const satisfies Partial<Record<TRPC_ERROR_CODE_KEY, string>>;

// Every code an error body can carry: a domain error's own, or the transport's public name.
export type PublicErrorCode = DomainErrorCode | (typeof publicCodeOf)[keyof typeof publicCodeOf];

// The one place where domain errors become transport errors (REST maps these to HTTP statuses).
export const trpcCodeOf: Record<DomainErrorCode, TRPC_ERROR_CODE_KEY> = {
  INVALID_INPUT: "BAD_REQUEST",
  NOT_FOUND: "NOT_FOUND",
  INSUFFICIENT_CREDITS: "PAYMENT_REQUIRED",
  IDEMPOTENCY_CONFLICT: "CONFLICT",
  INVALID_STATE: "CONFLICT",
  ALREADY_EXISTS: "CONFLICT",
  FORBIDDEN: "FORBIDDEN",
  UNAUTHENTICATED: "UNAUTHORIZED",
  RATE_LIMITED: "TOO_MANY_REQUESTS",
  LIMIT_EXCEEDED: "TOO_MANY_REQUESTS",
  PROVIDER_UNAVAILABLE: "SERVICE_UNAVAILABLE",
};

// The HTTP status of every public code, from the two tables above and tRPC's own status map, as
// the server answers it (the OpenAPI document reads this; nothing retypes a status).
export function httpStatusOf(code: PublicErrorCode): number {
  const domain = (trpcCodeOf as Partial<Record<string, TRPC_ERROR_CODE_KEY>>)[code];
  const transport = Object.entries(publicCodeOf).find(([, name]) => name === code)?.[0] as TRPC_ERROR_CODE_KEY;
  return getHTTPStatusCodeFromError(new TRPCError({ code: domain ?? transport }));
}

export interface ErrorData {
  appCode: string;
  httpStatus: number;
  fieldErrors?: Record<string, string[]>;
  formErrors?: string[];
  retryAfterSeconds?: number;
}

export interface PublicError extends ErrorData {
  message: string;
}

// What a failed procedure call tells its caller, the same for every transport: the tRPC error
// formatter (and REST through it) and the web app's pages read it here.
export function describeError(error: TRPCError): PublicError {
  const cause = error.cause;
  const described: PublicError = {
    appCode:
      cause instanceof DomainError
        ? cause.code
        : ((publicCodeOf as Partial<Record<TRPC_ERROR_CODE_KEY, string>>)[error.code] ?? error.code),
    httpStatus: getHTTPStatusCodeFromError(error),
    // Never a stack, SQL or driver text: an internal error says only that it happened.
    // Redacted like the logs: a message that echoes input (an email, a key) does not return it.
    message: redactText(
      error.code === "INTERNAL_SERVER_ERROR"
        ? "internal error"
        : cause instanceof ZodError
          ? "Input validation failed"
          : error.message,
    ),
  };
  if (cause instanceof ZodError) {
    const flat = z.flattenError(cause);
    described.fieldErrors = flat.fieldErrors as Record<string, string[]>;
    described.formErrors = flat.formErrors;
  }
  if (cause instanceof RateLimitedError || cause instanceof LimitExceededError) {
    described.retryAfterSeconds = cause.retryAfterSeconds;
  }
  return described;
}

// A procedure call's failure as its caller sees it; null for anything else (a bug, a thrown
// Response), which is not the caller's to explain.
export function publicErrorOf(error: unknown): PublicError | null {
  return error instanceof TRPCError ? describeError(error) : null;
}
