import { createCaller, createContext, readCookie, sessionCookieJar } from "@credits/api";
import type { AppLoadContext } from "@remix-run/node";

// One per request: the load context object is the request's own (the server builds it), and
// the root loader and the page's loader then share one session lookup and one cookie jar.
const perRequest = new WeakMap<AppLoadContext, ReturnType<typeof createApi>>();

// The shared router, called in-process for one Remix request: the same procedures, checks and
// error mapping as /trpc and /api/v1, on the server's own Services (from the load context).
// Routes get it from their wrapper (route.server.ts), which also sends its cookies.
export function apiFor(request: Request, context: AppLoadContext) {
  let api = perRequest.get(context);
  if (!api) {
    api = createApi(request, context);
    perRequest.set(context, api);
  }
  return api;
}

function createApi(request: Request, context: AppLoadContext) {
  const jar = sessionCookieJar(context.sessionCookieName);
  const ctx = createContext({
    services: context.services,
    requestId: context.requestId,
    clientAddress: context.clientAddress,
    sessionToken: readCookie(request.headers.get("cookie"), context.sessionCookieName),
    apiKey: null,
    cookies: jar,
  });
  return {
    caller: createCaller(ctx),
    // Resolved once per request; a stale token is cleared through the jar.
    session: () => ctx.auth.session(),
    // The Set-Cookie values this request's response must carry: the session cookie's changes
    // (set at log-in, refreshed by the sliding expiry, cleared at log-out or when the token is
    // no longer valid).
    cookies: () => jar.headers(),
  };
}

export type Api = ReturnType<typeof apiFor>;
