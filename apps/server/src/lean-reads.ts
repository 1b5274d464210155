import {
  type Context as ApiContext,
  appRouter,
  createContext,
  LEAN_READ_PROCEDURES,
  type LeanKind,
  type LeanProcedureDef,
  type LeanRead,
  leanRead,
  leanReadProblems,
  rateLimitJar,
  rawInputOf,
  readCookie,
  type Services,
  sessionCookieJar,
} from "@credits/api";
import type { HttpBindings } from "@hono/node-server";
import type { TRPCError } from "@trpc/server";
import { unhandledErrorResponse } from "./http-errors.ts";
import { observeAnswer, observing } from "./response-observers.ts";
import { restErrorResponse } from "./rest-adapter.ts";
import { bearerToken, requestIdOf, securityHeaderList } from "./security.ts";
import { recordRequest, rememberIdentity } from "./telemetry.ts";

// The lean route of the most frequent reads (issue 17, ADR 022): GET /api/v1/users/{userId}/balance,
// /api/v1/me/balance, /api/v1/users/{userId}/credits and /api/v1/me/credits answered before Hono's
// middlewares, the REST adapter and tRPC's chain, whose layers were most of a balance read's CPU
// (and a tenth of a credits read's). It runs what those layers run for these four paths,
// through the same functions: the request id, the tRPC context (credentials read as there), the
// procedures' own authorization, input and output schemas and resolvers
// (packages/api/src/lean-read-procedures.ts), the
// REST error body, the app's onError, security headers, Vary: Origin, the log line, metrics and the
// contract test's observers. It takes only the plain form of the request; anything else goes the
// documented way: another method (HEAD), a query string, an escaped or unusual path, an Origin
// header (CORS), or a request body. Its method and paths are the procedures' meta; at start-up it
// refuses procedures whose chain is not the one it mirrors (leanReadProblems), and
// lean-reads-guards.test.ts fails when the app's middlewares for these paths change.

export interface LeanReadsOptions {
  services: Services;
  cookieName: string;
  production: boolean;
  clientAddressOf: (socketAddress: string | undefined, forwardedFor: string | undefined) => string;
  onInternalError: (error: TRPCError, path: string, requestId: string) => void;
}

type Kind = LeanKind;
type Meta = { access?: unknown; openapi?: { method?: string; path?: string } };
type Definition = LeanProcedureDef & { meta?: Meta };

const PREFIX = "/api/v1";
const definitionOf = (kind: Kind) =>
  (appRouter._def.procedures as unknown as Record<string, { _def: Definition } | undefined>)[
    LEAN_READ_PROCEDURES[kind].path
  ]?._def;
const KINDS = Object.keys(LEAN_READ_PROCEDURES) as Kind[];
const isOwnRead = (kind: Kind) => LEAN_READ_PROCEDURES[kind].own;
// As the REST adapter labels them: the OpenAPI path template under the prefix.
const ROUTE = Object.fromEntries(
  KINDS.map((kind) => [kind, PREFIX + definitionOf(kind)?.meta?.openapi?.path]),
) as Record<Kind, string>;
const OWN_KINDS = KINDS.filter(isOwnRead) as Extract<LeanRead, { userId?: never }>["kind"][];
const USER_KINDS = KINDS.filter((kind) => !isOwnRead(kind)) as Extract<LeanRead, { userId: string }>["kind"][];
const OF_USER = USER_KINDS.map((kind) => ({
  kind,
  path: new RegExp(`^${ROUTE[kind].replace("{userId}", "([\\w-]+)")}$`),
}));

// Why the lean route cannot answer for the procedures as they are defined now (none: it can).
export function leanRouteProblems(): string[] {
  const problems: string[] = [];
  for (const kind of KINDS) {
    const def = definitionOf(kind);
    if (!def) {
      problems.push(`${LEAN_READ_PROCEDURES[kind].path}: no such procedure`);
      continue;
    }
    problems.push(...leanReadProblems(kind, def));
    if (def.meta?.openapi?.method !== "GET") problems.push(`${LEAN_READ_PROCEDURES[kind].path}: not a GET`);
    if (!def.meta?.openapi?.path) problems.push(`${LEAN_READ_PROCEDURES[kind].path}: no REST path`);
  }
  for (const kind of KINDS) {
    const path = ROUTE[kind];
    const params = path.split("{").length - 1;
    if (isOwnRead(kind) ? params !== 0 : params !== 1 || !path.includes("/{userId}/")) {
      problems.push(`path ${path}: not the parameters the lean route reads`);
    }
  }
  return problems;
}

// How many requests the lean route answered: the equivalence test proves with it that it ran.
export const leanAnswers = { count: 0 };

export function leanReads(options: LeanReadsOptions) {
  const problems = leanRouteProblems();
  if (problems.length > 0) {
    throw new Error(`apps/server/src/lean-reads.ts no longer mirrors its procedures: ${problems.join("; ")}`);
  }
  // The definitions just checked: the lean route runs their resolvers.
  const definitions = Object.fromEntries(KINDS.map((kind) => [kind, definitionOf(kind)])) as Record<Kind, Definition>;
  // null: not a request this route takes, the app answers it.
  return (request: Request, env: unknown): Promise<Response> | null => {
    const incoming = (env as Partial<HttpBindings> | undefined)?.incoming;
    const read = incoming ? leanReadOf(request) : null;
    return read ? answer(options, definitions[read.kind], request, incoming?.socket.remoteAddress, read) : null;
  };
}

const FALL_THROUGH_HEADERS = ["origin", "content-length", "transfer-encoding"];

// The read a request names when the lean route takes it, from its path as Hono reads it (after the
// authority, before the query); null for anything the documented route must see.
export function leanReadOf(request: Request): LeanRead | null {
  if (request.method !== "GET") return null;
  const url = request.url;
  const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
  let read: LeanRead | null = null;
  for (const kind of OWN_KINDS) if (path === ROUTE[kind]) read = { kind };
  for (const { kind, path: pattern } of OF_USER) {
    const userId: string | undefined = read ? undefined : pattern.exec(path)?.[1];
    if (userId !== undefined) read = { kind, userId };
  }
  if (!read) return null;
  for (const name of FALL_THROUGH_HEADERS) if (request.headers.has(name)) return null;
  return read;
}

async function answer(
  options: LeanReadsOptions,
  def: Definition,
  request: Request,
  socketAddress: string | undefined,
  read: LeanRead,
) {
  leanAnswers.count += 1;
  const started = performance.now();
  const requestId = requestIdOf(request.headers.get("x-request-id") ?? undefined);
  const identity: Identity = {};
  const jar = sessionCookieJar(options.cookieName);
  const path = "userId" in read ? ROUTE[read.kind].replace("{userId}", read.userId) : ROUTE[read.kind];
  let response: Response;
  try {
    response = await respond(options, request, socketAddress, read, { def, requestId, identity, jar });
    if (observing()) {
      const body = await response.clone().text();
      const headers = Object.fromEntries(response.headers.entries());
      observeAnswer({ method: "GET", path, status: response.status, headers, body });
    }
  } catch (error) {
    // Whatever threw (the read's error handling, header building, an observer): the app's onError
    // answer, with what the app's middlewares add to it, and a renewed session's cookie kept.
    response = unhandledErrorResponse(error, requestId, ROUTE[read.kind]);
    addAppHeaders(response.headers, options.production, requestId, jar.headers(), []);
  }
  const { userId, apiKeyId } = identity;
  const status = response.status;
  recordRequest({ requestId, method: "GET", path, route: ROUTE[read.kind], status, started, userId, apiKeyId });
  return response;
}

type Identity = { userId?: string; apiKeyId?: string };
type Answering = {
  def: Definition;
  requestId: string;
  identity: Identity;
  jar: ReturnType<typeof sessionCookieJar>;
};

async function respond(
  options: LeanReadsOptions,
  request: Request,
  socketAddress: string | undefined,
  read: LeanRead,
  { def, requestId, identity, jar }: Answering,
): Promise<Response> {
  const headers = request.headers;
  const apiKey = bearerToken(headers.get("authorization") ?? undefined);
  const rateLimits = rateLimitJar();
  const ctx = createContext({
    services: options.services,
    requestId,
    clientAddress: options.clientAddressOf(socketAddress, headers.get("x-forwarded-for") ?? undefined),
    // One credential per request: with an API key the session cookie is not even read.
    sessionToken: apiKey === null ? readCookie(headers.get("cookie") ?? undefined, options.cookieName) : null,
    apiKey,
    cookies: jar,
    rateLimits,
  });
  rememberIdentity((key, value) => {
    identity[key] = value;
  }, ctx);
  const outcome = await readAnswer(options, ctx, def, read);
  const cookies = jar.headers();
  if (typeof outcome === "string" && cookies.length === 0) {
    // The common case, headers as a plain object: @hono/node-server writes them without a Headers.
    const plain: [string, string][] = [
      ["Content-Type", "application/json"],
      ...rateLimits.headers(),
      ["Vary", "Origin"],
    ];
    for (const [name, value] of securityHeaderList(options.production, true)) plain.push([name, value]);
    plain.push(["X-Request-Id", requestId]);
    return new Response(outcome, { status: 200, headers: Object.fromEntries(plain) });
  }
  const response =
    typeof outcome === "string" ? new Response(outcome, { headers: { "Content-Type": "application/json" } }) : outcome;
  addAppHeaders(response.headers, options.production, requestId, cookies, rateLimits.headers());
  return response;
}

// What the app's layers add, as they add it: withContext (cookies appended, rate limits set), CORS
// without an Origin (Vary appended), securityHeaders (no-store only when the answer set no
// Cache-Control) and the request id. Exported for its test.
export function addAppHeaders(
  headers: Headers,
  production: boolean,
  requestId: string,
  cookies: readonly string[],
  rateLimits: ReadonlyArray<readonly [string, string]>,
) {
  for (const cookie of cookies) headers.append("Set-Cookie", cookie);
  for (const [name, value] of rateLimits) headers.set(name, value);
  headers.append("Vary", "Origin");
  for (const [name, value] of securityHeaderList(production, !headers.has("Cache-Control"))) headers.set(name, value);
  headers.set("X-Request-Id", requestId);
}

// The read's JSON body, or its error as the REST adapter answers it (reported when internal).
async function readAnswer(
  options: LeanReadsOptions,
  ctx: ApiContext,
  def: Definition,
  read: LeanRead,
): Promise<string | Response> {
  const procedure = LEAN_READ_PROCEDURES[read.kind].path;
  try {
    return JSON.stringify(await leanRead(ctx, def, read));
  } catch (cause) {
    const error = cause as TRPCError;
    if (error.code === "INTERNAL_SERVER_ERROR") options.onInternalError(error, procedure, ctx.requestId);
    return restErrorResponse(appRouter, error, procedure, rawInputOf(read), ctx);
  }
}
