import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { errorResponse } from "./http-errors.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

// CSRF: a state-changing request from a browser must come from our own pages (or an allowed
// origin), with or without the session cookie: log-in, sign-up and log-out set or clear the
// cookie, and SameSite=Lax keeps the cookie off a cross-site POST but not the answer's Set-Cookie
// (a cross-site page could log the browser out, or into the attacker's account). Requests
// authenticated by an API key carry no ambient authority and pass.
export function csrfGuard({ allowedOrigins }: { allowedOrigins: ReadonlySet<string> }): MiddlewareHandler {
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method) || bearerToken(c.req.header("authorization")) !== null) return next();
    const allowed = (origin: string) => allowedOrigins.has(origin) || origin === new URL(c.req.url).origin;
    if (crossSite(c.req.header("origin"), c.req.header("sec-fetch-site"), allowed)) {
      return errorResponse(403, "CSRF", "cross-site request refused");
    }
    return next();
  };
}

// Browsers send Origin on every cross-origin POST, and modern ones Sec-Fetch-Site too; a request
// with neither comes from a non-browser client, which has no victim's cookies to abuse.
export function crossSite(
  origin: string | undefined,
  fetchSite: string | undefined,
  allowed: (origin: string) => boolean,
): boolean {
  if (origin) return !allowed(origin);
  return !(fetchSite === undefined || fetchSite === "same-origin" || fetchSite === "none");
}

// Every answer says nosniff (a JSON body must never be run as a script or a page); production adds
// HSTS. API answers carry balances, personal data and the export: no cache may keep them.
export function securityHeaders({ production }: { production: boolean }): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const headers = c.res.headers;
    const path = c.req.path;
    const api = path.startsWith("/api/") || path.startsWith("/trpc/");
    for (const [name, value] of securityHeaderList(production, api && !headers.has("Cache-Control"))) {
      headers.set(name, value);
    }
  };
}

// The headers securityHeaders sets, for the answers that do not go through it (lean-reads.ts).
export function securityHeaderList(production: boolean, noStore: boolean): ReadonlyArray<readonly [string, string]> {
  return HEADER_LISTS[(production ? 1 : 0) + (noStore ? 2 : 0)] as ReadonlyArray<readonly [string, string]>;
}
const NOSNIFF = ["X-Content-Type-Options", "nosniff"] as const;
const HSTS = ["Strict-Transport-Security", "max-age=63072000; includeSubDomains"] as const;
const NO_STORE = ["Cache-Control", "no-store"] as const;
const HEADER_LISTS = [[NOSNIFF], [NOSNIFF, HSTS], [NOSNIFF, NO_STORE], [NOSNIFF, HSTS, NO_STORE]];

// The API key of an `Authorization: Bearer <key>` header; null for anything else.
export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1] ?? null;
}

// X-Request-Id from the caller when it is a sane token, otherwise a new one; echoed back.
export function requestIdOf(header: string | undefined): string {
  return header && /^[\w.-]{1,100}$/.test(header) ? header : crypto.randomUUID();
}

// Refuses a body over `maxSize` bytes with 413 before anything reads it. Hono's bodyLimit first
// touches `c.req.raw.body`, which turns @hono/node-server's lightweight request into a full fetch
// Request with a ReadableStream on every call (pnpm bench: about 5 % of a spend's CPU). A declared
// Content-Length is enough on its own (Node's parser never delivers more than it declares); only
// a chunked body goes through bodyLimit's counting reader (with neither header there is no body).
export function bodySizeLimit(maxSize: number, message: string): MiddlewareHandler {
  const onError = () => errorResponse(413, "PAYLOAD_TOO_LARGE", message);
  const counting = bodyLimit({ maxSize, onError });
  return async (c, next) => {
    const length = c.req.header("content-length");
    const chunked = c.req.header("transfer-encoding") !== undefined;
    if (!chunked) return length !== undefined && Number(length) > maxSize ? onError() : next();
    return counting(c, next);
  };
}
