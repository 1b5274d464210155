import {
  type Context as ApiContext,
  appRouter,
  createContext,
  leanBalanceRead,
  rateLimitJar,
  readCookie,
  type Services,
  sessionCookieJar,
} from "@credits/api";
import type { HttpBindings } from "@hono/node-server";
import type { TRPCError } from "@trpc/server";
import { observeAnswer, observing } from "./response-observers.ts";
import { restErrorResponse } from "./rest-adapter.ts";
import { bearerToken, requestIdOf, securityHeaderList } from "./security.ts";
import { recordRequest, rememberIdentity } from "./telemetry.ts";

// The lean route of the two balance-only reads (issue 17, ADR 022): GET /api/v1/users/{userId}/balance
// and GET /api/v1/me/balance answered before Hono's middlewares, the REST adapter and tRPC's chain,
// whose layers were most of such a read's CPU. It runs what those layers run for these two paths,
// through the same functions: the request id, the tRPC context (credentials read as there), the
// procedures' own authorization, input and output schemas (packages/api/src/balance-reads.ts), the
// REST error body, security headers, Vary: Origin, the log line, metrics and the contract test's
// observers. It takes only the plain form of the request; anything else goes the documented way:
// another method (HEAD), a query string, an escaped or unusual path, an Origin header (CORS), or a
// request body.

export interface LeanReadsOptions {
  services: Services;
  cookieName: string;
  production: boolean;
  clientAddressOf: (socketAddress: string | undefined, forwardedFor: string | undefined) => string;
  onInternalError: (error: TRPCError, path: string, requestId: string) => void;
}

type Read = { kind: "me" } | { kind: "user"; userId: string };

const PREFIX = "/api/v1";
const ME = `${PREFIX}/me/balance`;
const OF_USER = /^\/api\/v1\/users\/([\w-]+)\/balance$/;
// As the REST adapter labels and names them (the OpenAPI path template, the procedure path).
const ROUTE = { me: ME, user: `${PREFIX}/users/{userId}/balance` };
const PROCEDURE = { me: "credits.myBalance", user: "credits.balanceOfUser" };

export function leanReads(options: LeanReadsOptions) {
  // null: not a request this route takes, the app answers it.
  return (request: Request, env: unknown): Promise<Response> | null => {
    if (request.method !== "GET") return null;
    const incoming = (env as Partial<HttpBindings> | undefined)?.incoming;
    if (!incoming) return null;
    const read = readOf(request.url);
    if (!read) return null;
    const headers = request.headers;
    for (const name of FALL_THROUGH_HEADERS) if (headers.has(name)) return null;
    return answer(options, request, incoming.socket.remoteAddress, read);
  };
}

const FALL_THROUGH_HEADERS = ["origin", "content-length", "transfer-encoding"];

// The read a URL names, from its path as Hono reads it (after the authority, before the query).
function readOf(url: string): Read | null {
  const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
  if (path === ME) return { kind: "me" };
  const userId = OF_USER.exec(path)?.[1];
  return userId === undefined ? null : { kind: "user", userId };
}

async function answer(options: LeanReadsOptions, request: Request, socketAddress: string | undefined, read: Read) {
  const started = performance.now();
  const headers = request.headers;
  const requestId = requestIdOf(headers.get("x-request-id") ?? undefined);
  const apiKey = bearerToken(headers.get("authorization") ?? undefined);
  const jar = sessionCookieJar(options.cookieName);
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
  const identity: { userId?: string; apiKeyId?: string } = {};
  rememberIdentity((key, value) => {
    identity[key] = value;
  }, ctx);
  const outcome = await readAnswer(options, ctx, read);
  // What the app's layers add: withContext (cookies, rate limits), the request id, CORS without an
  // Origin, securityHeaders (no answer of these two sets its own Cache-Control).
  const added: [string, string][] = [
    ["X-Request-Id", requestId],
    ["Vary", "Origin"],
  ];
  for (const [name, value] of securityHeaderList(options.production, true)) added.push([name, value]);
  for (const [name, value] of rateLimits.headers()) added.push([name, value]);
  const cookies = jar.headers();
  let response: Response;
  if (typeof outcome === "string" && cookies.length === 0) {
    // The common case, headers as a plain object: @hono/node-server writes them without a Headers.
    response = new Response(outcome, { status: 200, headers: Object.fromEntries([JSON_TYPE, ...added]) });
  } else {
    response = typeof outcome === "string" ? new Response(outcome, { headers: [JSON_TYPE] }) : outcome;
    for (const cookie of cookies) response.headers.append("Set-Cookie", cookie);
    for (const [name, value] of added) response.headers.set(name, value);
  }
  const path = read.kind === "me" ? ME : `${PREFIX}/users/${read.userId}/balance`;
  const status = response.status;
  if (observing()) {
    const body = await response.clone().text();
    observeAnswer({ method: "GET", path, status, headers: Object.fromEntries(response.headers.entries()), body });
  }
  const { userId, apiKeyId } = identity;
  recordRequest({ requestId, method: "GET", path, route: ROUTE[read.kind], status, started, userId, apiKeyId });
  return response;
}

const JSON_TYPE: [string, string] = ["Content-Type", "application/json"];

// The read's JSON body, or its error as the REST adapter answers it (reported when internal).
async function readAnswer(options: LeanReadsOptions, ctx: ApiContext, read: Read): Promise<string | Response> {
  const procedure = PROCEDURE[read.kind];
  const input = read.kind === "me" ? undefined : { userId: read.userId };
  try {
    return JSON.stringify(await leanBalanceRead(ctx, read.kind === "me" ? read : { kind: "user", rawInput: input }));
  } catch (cause) {
    const error = cause as TRPCError;
    if (error.code === "INTERNAL_SERVER_ERROR") options.onInternalError(error, procedure, ctx.requestId);
    return restErrorResponse(appRouter, error, procedure, input, ctx);
  }
}
