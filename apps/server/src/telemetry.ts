import { createHash, timingSafeEqual } from "node:crypto";
import { type Context as ApiContext, appRouter } from "@credits/api";
import { annotateActiveSpan, httpRequestDuration, logger, type Registry } from "@credits/observability";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context, Hono, Env as HonoEnv, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { errorResponse } from "./http-errors.ts";

// The server's side of observability: one log line and one histogram sample per request, the
// route label they share, and the /metrics endpoint.

declare module "hono" {
  interface ContextVariableMap {
    requestId: string;
    // Who made the request, once authentication has run (never the email).
    userId: string | undefined;
    apiKeyId: string | undefined;
    // The route pattern a handler matched below Hono's own (the REST adapter's path template).
    route: string | undefined;
  }
}

// Probes and scrapes are logged at debug: at info they would drown the requests that matter.
const QUIET_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

export function requestTelemetry(): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    recordRequest({
      requestId: c.get("requestId"),
      method: c.req.method,
      path: c.req.path,
      route: routeOf(c),
      status: c.res.status,
      started,
      userId: c.get("userId"),
      apiKeyId: c.get("apiKeyId"),
    });
  };
}

export interface RequestRecord {
  requestId: string;
  method: string;
  path: string;
  route: string;
  status: number;
  // performance.now() when the request arrived.
  started: number;
  userId: string | undefined;
  apiKeyId: string | undefined;
}

// The request's histogram sample, span name and log line; also the lean route's (lean-reads.ts).
export function recordRequest({ requestId, method, path, route, status, started, userId, apiKeyId }: RequestRecord) {
  const durationMs = performance.now() - started;
  httpRequestDuration.observe({ method, route, status: String(status) }, durationMs / 1000);
  // The HTTP server span (instrumentation-http) knows the path, not the route: name it here.
  annotateActiveSpan({ "http.route": route }, `${method} ${route}`);
  const entry = { requestId, method, route, status, durationMs: Math.round(durationMs * 10) / 10, userId, apiKeyId };
  if (QUIET_PATHS.has(path)) logger.debug(entry, "request");
  else logger.info(entry, "request");
}

type Identity = { userId?: string; apiKeyId?: string };

// Records who the request turned out to be, as the procedures resolve it: the tRPC context
// resolves the session or API key lazily, so this wraps those lookups rather than adding one.
export function rememberIdentity(note: <K extends keyof Identity>(key: K, value: string) => void, ctx: ApiContext) {
  const { session, sessionWith, apiKey } = ctx.auth;
  ctx.auth.session = async () => {
    const resolved = await session();
    if (resolved) note("userId", resolved.user.id);
    return resolved;
  };
  ctx.auth.sessionWith = async (find) => {
    const found = await sessionWith(find);
    if (found) note("userId", found.user.id);
    return found;
  };
  ctx.auth.apiKey = async () => {
    const principal = await apiKey();
    if (principal) note("apiKeyId", principal.id);
    return principal;
  };
}

// The label a request is counted and logged under: the matched route pattern, never the raw
// path (ids, emails), so the set of values stays small. tRPC and REST requests are refined to
// their procedure or OpenAPI path template.
export function routeOf(c: Context): string {
  const path = c.req.path;
  if (path.startsWith("/trpc/")) return trpcRoute(path.slice("/trpc/".length));
  const matched = c.get("route");
  if (matched) return matched;
  const pattern = routePath(c, c.req.routeIndex);
  if (pattern === "*" || pattern === "/*" || pattern === "") return c.res.status === 404 ? "(unmatched)" : "(web)";
  return pattern;
}

let procedures: Set<string> | undefined;
function trpcRoute(names: string): string {
  procedures ??= new Set(Object.keys(appRouter._def.procedures));
  const called = names.split(",");
  if (!called.every((name) => procedures?.has(name))) return "/trpc/*";
  return called.length === 1 ? `/trpc/${called[0]}` : "/trpc/(batch)";
}

export interface MetricsAccess {
  // Required as `Authorization: Bearer <token>` when set.
  token: string | undefined;
  // Served only to requests from 127.0.0.1 / ::1 (the socket's address, never X-Forwarded-For).
  loopbackOnly: boolean;
  // Without a token, refuse requests that a proxy forwarded (production): a reverse proxy on the
  // same host connects from loopback, and would otherwise publish /metrics to whoever it serves.
  refuseForwarded: boolean;
}

// Headers proxies add to what they forward (standard and de facto). A proxy that adds none of
// them is not recognized: behind one, set METRICS_TOKEN.
const FORWARDING_HEADERS = [
  "forwarded",
  "via",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-port",
  "x-forwarded-server",
  "x-real-ip",
  "x-client-ip",
  "x-cluster-client-ip",
  "true-client-ip",
  "cf-connecting-ip",
  "fastly-client-ip",
];

export function mountMetrics<E extends HonoEnv>(app: Hono<E>, registry: Registry, access: MetricsAccess) {
  const expected = access.token ? digest(access.token) : null;
  app.get("/metrics", async (c) => {
    if (access.loopbackOnly && !isLoopback(getConnInfo(c).remote.address)) {
      return errorResponse(403, "FORBIDDEN", "metrics are served on the loopback interface only");
    }
    if (!expected && access.refuseForwarded && FORWARDING_HEADERS.some((name) => c.req.header(name) !== undefined)) {
      return errorResponse(403, "FORBIDDEN", "metrics are not served through a proxy without METRICS_TOKEN");
    }
    if (expected) {
      const given = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "")?.[1];
      if (!given || !timingSafeEqual(digest(given), expected)) {
        return errorResponse(401, "UNAUTHENTICATED", "a metrics token is required", {
          headers: { "WWW-Authenticate": 'Bearer realm="metrics"' },
        });
      }
    }
    return c.body(await registry.metrics(), 200, { "Content-Type": registry.contentType });
  });
}

// Equal-length inputs for timingSafeEqual, whatever the token lengths.
const digest = (value: string) => createHash("sha256").update(value).digest();

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}
