import {
  type ApiKeyPrincipal,
  DomainError,
  type IdempotencyScope,
  isStoreUnavailable,
  type OfSession,
} from "@credits/core";
import { initTRPC, TRPCError } from "@trpc/server";
import type { OpenApiMeta } from "trpc-to-openapi";
import type { ApiKeyScope, Context } from "./context.ts";
import { describeError, type ErrorData, type PublicErrorCode, trpcCodeOf } from "./errors.ts";

// Who may call a procedure. The authorization test reads this to prove every procedure is covered.
export type Access = "public" | "user" | "admin" | { scope: ApiKeyScope; orAdmin?: boolean; orUser?: boolean };
// `errors`: the codes the procedure itself may answer, beyond those its access, input and method
// bring (openapi-errors.ts adds those); the OpenAPI document lists exactly these, and the contract
// test fails on any other the server answers.
type Meta = OpenApiMeta & { access?: Access; errors?: readonly PublicErrorCode[] };

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    errorFormatter({ shape, error }) {
      const { message, ...data } = describeError(error);
      return { message, code: shape.code, data: { ...data, httpStatus: shape.data.httpStatus } satisfies ErrorData };
    },
  });

// A domain error or an unavailable store, thrown by a procedure, as the client sees it: shared by
// every procedure (domainErrors) and the server's lean route of the credits reads (lean-read-procedures.ts).
export function publicTrpcError(error: TRPCError): TRPCError {
  const cause = error.cause;
  if (cause instanceof DomainError)
    return new TRPCError({ code: trpcCodeOf[cause.code], message: cause.message, cause });
  if (isStoreUnavailable(cause)) {
    return new TRPCError({
      code: "SERVICE_UNAVAILABLE",
      message: "the service is briefly unavailable, try again shortly",
      cause,
    });
  }
  return error;
}

// Exported for the lean route's start-up check of the procedures' chain (lean-reads.ts).
export const domainErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) {
    const error = publicTrpcError(result.error);
    if (error !== result.error) throw error;
  }
  return result;
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

// A rule added here (or to ownReadProcedure, serviceProcedure) must reach apps/server/src/lean-reads.ts.
const base = t.procedure.use(domainErrors);

export const publicProcedure = base.meta({ access: "public" });

const requireUser = t.middleware(async ({ ctx, next }) => {
  const session = await ctx.auth.session();
  if (!session) throw new TRPCError({ code: "UNAUTHORIZED", message: "sign in first" });
  return next({ ctx: { user: session.user, sessionId: session.sessionId } });
});

export const authedProcedure = base.meta({ access: "user" }).use(requireUser);

// A read of the signed-in user's own account whose session lookup is part of the read's one
// statement (issue 17): the procedure gets `ownRead` instead of ctx.user; it runs the read and
// refuses (401) exactly when requireUser would, the read then discarded.
export const ownReadAccess = t.middleware(({ ctx, next }) => next({ ctx: { ownRead: ownReaderOf(ctx) } }));
export const ownReadProcedure = base.meta({ access: "user" }).use(ownReadAccess);

// ownReadProcedure's rule as a function, shared with the server's lean route of the credits reads:
// a request without a session cookie is a 401 at once; with one, the read is returned only if the
// session turns out valid.
export function ownReaderOf(ctx: Context) {
  if (ctx.sessionToken === null) throw new TRPCError({ code: "UNAUTHORIZED", message: "sign in first" });
  return async <T>(find: (sessionId: string) => Promise<OfSession<T> | null>): Promise<T> => {
    const found = await ctx.auth.sessionWith(find);
    if (!found) throw new TRPCError({ code: "UNAUTHORIZED", message: "sign in first" });
    return found.view;
  };
}

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

type ServiceAccess = { orAdmin?: boolean; orUser?: boolean };

// Each serviceProcedure's access middleware and the rule it applies: the lean route checks
// at start-up that its procedure's chain is the one it mirrors (apps/server/src/lean-reads.ts).
export const serviceAccessOf = new WeakMap<object, { scope: ApiKeyScope } & ServiceAccess>();

// For internal tools with an API key holding `scope`; optionally also an admin's session, or any
// signed-in user acting on their own account (the procedure then must use ctx.caller.userId).
export function serviceProcedure(scope: ApiKeyScope, also: ServiceAccess = {}) {
  const access = t.middleware(async ({ ctx, next }) =>
    next({ ctx: { caller: await serviceCallerOf(ctx, scope, also) } }),
  );
  serviceAccessOf.set(access._middlewares[0] as object, { scope, ...also });
  return base.meta({ access: { scope, ...also } }).use(access);
}

// serviceProcedure's rule as a function, shared with the server's lean route of the credits reads.
export async function serviceCallerOf(ctx: Context, scope: ApiKeyScope, also: ServiceAccess): Promise<Caller> {
  if (ctx.auth.hasApiKey) {
    const key = await ctx.auth.apiKey();
    if (!key) throw new TRPCError({ code: "UNAUTHORIZED", message: "invalid or revoked API key" });
    if (!key.scopes.includes(scope)) {
      throw new TRPCError({ code: "FORBIDDEN", message: `this API key lacks the ${scope} scope` });
    }
    return { kind: "apiKey", apiKeyId: key.id, key };
  }
  const session = await ctx.auth.session();
  if (!session) throw new TRPCError({ code: "UNAUTHORIZED", message: "an API key or a session is required" });
  const isAdmin = session.user.role === "admin";
  if (!(also.orUser || (also.orAdmin && isAdmin))) {
    throw new TRPCError({ code: "FORBIDDEN", message: `requires an API key with the ${scope} scope` });
  }
  return { kind: "user", userId: session.user.id, isAdmin };
}
