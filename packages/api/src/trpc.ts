import {
  type ApiKeyPrincipal,
  DomainError,
  type DomainErrorCode,
  type IdempotencyScope,
  isStoreUnavailable,
  LimitExceededError,
  RateLimitedError,
} from "@credits/core";
import { redactText } from "@credits/observability";
import { initTRPC, TRPCError } from "@trpc/server";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import type { OpenApiMeta } from "trpc-to-openapi";
import { ZodError, z } from "zod";
import type { ApiKeyScope, Context } from "./context.ts";

// Who may call a procedure. The authorization test reads this to prove every procedure is covered.
export type Access = "public" | "user" | "admin" | { scope: ApiKeyScope; orAdmin?: boolean; orUser?: boolean };
type Meta = OpenApiMeta & { access?: Access };

// The one place where domain errors become transport errors (REST maps these to HTTP statuses).
const trpcCodeOf: Record<DomainErrorCode, TRPC_ERROR_CODE_KEY> = {
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

// The stable error codes clients see, for errors that did not start as domain errors.
const publicCodeOf: Partial<Record<TRPC_ERROR_CODE_KEY, string>> = {
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
};

export interface ErrorData {
  appCode: string;
  httpStatus: number;
  fieldErrors?: Record<string, string[]>;
  formErrors?: string[];
  retryAfterSeconds?: number;
}

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    errorFormatter({ shape, error }) {
      const cause = error.cause;
      const internal = error.code === "INTERNAL_SERVER_ERROR";
      const data: ErrorData = {
        appCode: cause instanceof DomainError ? cause.code : (publicCodeOf[error.code] ?? error.code),
        httpStatus: shape.data.httpStatus,
      };
      if (cause instanceof ZodError) {
        const flat = z.flattenError(cause);
        data.fieldErrors = flat.fieldErrors as Record<string, string[]>;
        data.formErrors = flat.formErrors;
      }
      if (cause instanceof RateLimitedError || cause instanceof LimitExceededError) {
        data.retryAfterSeconds = cause.retryAfterSeconds;
      }
      // Never a stack, SQL or driver text: an internal error says only that it happened.
      // Redacted like the logs: a message that echoes input (an email, a key) does not return it.
      const message = redactText(
        internal ? "internal error" : cause instanceof ZodError ? "Input validation failed" : shape.message,
      );
      return { message, code: shape.code, data };
    },
  });

const domainErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof DomainError) {
    const cause = result.error.cause;
    throw new TRPCError({ code: trpcCodeOf[cause.code], message: cause.message, cause });
  }
  if (!result.ok && isStoreUnavailable(result.error.cause)) {
    throw new TRPCError({
      code: "SERVICE_UNAVAILABLE",
      message: "the service is briefly unavailable, try again shortly",
      cause: result.error.cause,
    });
  }
  return result;
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

const base = t.procedure.use(domainErrors);

export const publicProcedure = base.meta({ access: "public" });

const requireUser = t.middleware(async ({ ctx, next }) => {
  const session = await ctx.auth.session();
  if (!session) throw new TRPCError({ code: "UNAUTHORIZED", message: "sign in first" });
  return next({ ctx: { user: session.user, sessionId: session.sessionId } });
});

export const authedProcedure = base.meta({ access: "user" }).use(requireUser);

export const adminProcedure = base
  .meta({ access: "admin" })
  .use(requireUser)
  .use(({ ctx, next }) => {
    if (ctx.user.role !== "admin") throw new TRPCError({ code: "FORBIDDEN", message: "admins only" });
    return next();
  });

export type Caller =
  | { kind: "apiKey"; apiKeyId: string; key: ApiKeyPrincipal }
  | { kind: "user"; userId: string; isAdmin: boolean };

// Whose idempotency keys a request uses: its API key's, or its signed-in user's.
export const scopeOf = (caller: Caller): IdempotencyScope =>
  caller.kind === "apiKey" ? { kind: "apiKey", id: caller.apiKeyId } : { kind: "user", id: caller.userId };

// For internal tools with an API key holding `scope`; optionally also an admin's session, or any
// signed-in user acting on their own account (the procedure then must use ctx.caller.userId).
export function serviceProcedure(scope: ApiKeyScope, also: { orAdmin?: boolean; orUser?: boolean } = {}) {
  return base.meta({ access: { scope, ...also } }).use(async ({ ctx, next }) => {
    if (ctx.auth.hasApiKey) {
      const key = await ctx.auth.apiKey();
      if (!key) throw new TRPCError({ code: "UNAUTHORIZED", message: "invalid or revoked API key" });
      if (!key.scopes.includes(scope)) {
        throw new TRPCError({ code: "FORBIDDEN", message: `this API key lacks the ${scope} scope` });
      }
      // Widened on purpose: both branches must give the procedure the same context type.
      const caller = { kind: "apiKey", apiKeyId: key.id, key } as Caller;
      return next({ ctx: { caller } });
    }
    const session = await ctx.auth.session();
    if (!session) throw new TRPCError({ code: "UNAUTHORIZED", message: "an API key or a session is required" });
    const isAdmin = session.user.role === "admin";
    if (!(also.orUser || (also.orAdmin && isAdmin))) {
      throw new TRPCError({ code: "FORBIDDEN", message: `requires an API key with the ${scope} scope` });
    }
    const caller = { kind: "user", userId: session.user.id, isAdmin } as Caller;
    return next({ ctx: { caller } });
  });
}
