import {
  appRouter,
  createContext,
  OPENAPI_DOC_PATH,
  openApiDocument,
  rateLimitJar,
  readCookie,
  restCreatedLocation,
  restSuccessStatus,
  type Services,
  sessionCookieJar,
  sessionCookieName,
} from "@credits/api";
import type { Database } from "@credits/db";
import type { Registry } from "@credits/observability";
import type { LocalProvider } from "@credits/stripe";
import type { WebApp } from "@credits/web/server";
import type { HttpBindings } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import { serveStatic } from "@hono/node-server/serve-static";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { TRPCError } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { type Context, Hono } from "hono";
import { cors } from "hono/cors";
import { mountApiDocs } from "./api-docs.ts";
import { mountBalanceEvents } from "./balance-events.ts";
import type { BalanceFeed } from "./balance-feed.ts";
import { clientAddressResolver, type TrustProxy } from "./client-address.ts";
import { errorResponse, logInternal, unhandledErrorResponse } from "./http-errors.ts";
import { leanReads } from "./lean-reads.ts";
import { mountLocalCheckout } from "./local-checkout.ts";
import { mountDevMail } from "./mail.ts";
import { responseObserver } from "./response-observers.ts";
import { createRestAdapter } from "./rest-adapter.ts";
import { bearerToken, bodySizeLimit, csrfGuard, requestIdOf, securityHeaders } from "./security.ts";
import { type MetricsAccess, mountMetrics, rememberIdentity, requestTelemetry, routeOf } from "./telemetry.ts";
import { mountWebhooks } from "./webhooks.ts";

export interface AppOptions {
  services: Services;
  // Set when payments run on the local test-mode provider: serves its checkout page.
  localProvider: LocalProvider | null;
  publicUrl: string;
  corsOrigins: string[];
  bodyLimitBytes: number;
  // TRUST_PROXY: proxy hops in front of the server, or their addresses/CIDRs (client-address.ts).
  trustProxy: TrustProxy;
  production: boolean;
  // Readiness: the database answers (within its own timeout) and we are not shutting down.
  ready: () => Promise<boolean>;
  // /metrics: the registry it serves and who may read it; absent, there is no /metrics.
  metrics?: { registry: Registry; access: MetricsAccess } | null;
  // The live balance (GET /api/v1/me/events): this instance's feed and its streams' heartbeat.
  balanceEvents: { feed: BalanceFeed; heartbeatMs: number };
  // Outside production: the local mail outbox at /dev/mail, read from this database.
  devMail?: Database | null;
  // The Remix app (apps/web), for every path the API does not own; absent: API only.
  web?: WebApp | null;
}

// Paths the API owns: never handed to the web app, so their 404s stay JSON.
const API_PREFIXES = ["/trpc", "/api", "/webhooks", "/checkout/local", "/healthz", "/readyz", "/metrics"];

type Env = { Variables: { requestId: string } };

// The web app and @credits/client do not batch; a typed client that does stays under this.
const TRPC_MAX_BATCH_SIZE = 10;

export function createApp(options: AppOptions) {
  const { services } = options;
  const cookieName = sessionCookieName(options.production);
  const allowedOrigins = new Set([new URL(options.publicUrl).origin, ...options.corsOrigins]);
  const app = new Hono<Env>();

  useRequestMiddlewares(app, options);
  if (options.metrics) mountMetrics(app, options.metrics.registry, options.metrics.access);

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) =>
    (await options.ready()) ? c.json({ status: "ready" }) : c.json({ status: "unavailable" }, 503),
  );

  useApiGuards(app, allowedOrigins);

  const clientAddressOf = clientAddressResolver(options.trustProxy);
  function clientAddress(c: Context<Env>): string {
    return clientAddressOf(getConnInfo(c).remote.address, c.req.header("x-forwarded-for"));
  }
  const withContext = contextRunner(services, cookieName, clientAddress);

  mountTrpc(app, withContext);

  mountWebhooks(app, { provider: services.provider, payments: services.payments });
  if (options.localProvider)
    mountLocalCheckout(app, {
      provider: options.localProvider,
      payments: services.payments,
      publicOrigin: new URL(options.publicUrl).origin,
    });

  app.get(`/api/v1${OPENAPI_DOC_PATH}`, (c) => c.json(openApiDocument(`${options.publicUrl}/api/v1`)));
  mountApiDocs(app);

  mountBalanceEvents(app, { ...options.balanceEvents, services, cookieName });

  const rest = createRestAdapter({
    prefix: "/api/v1",
    router: appRouter,
    successStatus: (path) => restSuccessStatus[path] ?? 200,
    locationOf: (path, output) => restCreatedLocation[path]?.(output),
    onInternalError: (error, path, requestId) => logInternal("rest", requestId, path, error),
  });
  app.all("/api/v1/*", (c) => withContext(c, (ctx) => rest.handle(c, ctx)));

  if (options.devMail && !options.production) mountDevMail(app, options.devMail);

  if (options.web) mountWeb(app, options.web, { services, cookieName, publicUrl: options.publicUrl, clientAddress });

  const lean = leanReads({
    services,
    cookieName,
    production: options.production,
    clientAddressOf,
    onInternalError: (error, path, requestId) => logInternal("rest", requestId, path, error),
  });
  app.notFound((c) => errorResponse(404, "NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => unhandledErrorResponse(error, c.get("requestId"), routeOf(c)));
  // The four credits reads (balance and credits, own and a user's) take the lean route when they
  // can (lean-reads.ts), all else the app.
  return {
    fetch: (request: Request, env?: unknown) => lean(request, env) ?? app.fetch(request, env),
    // What Hono runs for a path, in order: lean-reads-guards.test.ts pins those of the lean paths.
    routes: app.routes,
  };
}

// Every request the lean route takes (the four credits reads) skips these middlewares and the
// /api/v1/* ones of useApiGuards and createApp: a change here must reach
// apps/server/src/lean-reads.ts (lean-reads-guards.test.ts pins them).
function useRequestMiddlewares(app: Hono<Env>, options: AppOptions) {
  app.use(async (c, next) => {
    const requestId = requestIdOf(c.req.header("x-request-id"));
    c.set("requestId", requestId);
    await next();
    c.res.headers.set("X-Request-Id", requestId);
  });
  app.use(responseObserver());
  // One log line and one duration sample per request, under its route pattern.
  app.use(requestTelemetry());
  app.use(securityHeaders({ production: options.production }));
  // Every route, web forms included, refuses an oversized body before reading it; the Stripe
  // webhook has its own, larger cap (webhooks.ts).
  const limitBody = bodySizeLimit(options.bodyLimitBytes, `request body over ${options.bodyLimitBytes} bytes`);
  app.use((c, next) => (c.req.path === "/webhooks/stripe" ? next() : limitBody(c, next)));
}

function useApiGuards(app: Hono<Env>, allowedOrigins: Set<string>) {
  // CORS is for browsers, which send Origin on every cross-origin request. Hono's cors middleware
  // sets its headers on a placeholder response before the handler runs, which makes Hono copy the
  // handler's response (body stream and all) afterwards (pnpm bench: the server's slow response
  // path on every API call); a request without Origin skips it, and only says that the answer
  // depends on Origin, so that a shared cache never hands it to a browser.
  const corsForBrowsers = cors({
    origin: (origin) => (allowedOrigins.has(origin) ? origin : null),
    credentials: true,
    exposeHeaders: ["X-Request-Id", "Retry-After", "RateLimit", "RateLimit-Policy", "Location"],
  });
  const api = ["/trpc/*", "/api/v1/*"];
  for (const path of api) {
    app.use(
      path,
      async (c, next) => {
        if (c.req.header("origin") !== undefined) return corsForBrowsers(c, next);
        await next();
        c.res.headers.append("Vary", "Origin");
      },
      csrfGuard({ allowedOrigins }),
    );
  }
}

type WithContext = (
  c: Context<Env>,
  handle: (ctx: ReturnType<typeof createContext>) => Promise<Response>,
) => Promise<Response>;

// Builds the tRPC context of one request and sends its cookie changes with the response.
function contextRunner(
  services: Services,
  cookieName: string,
  clientAddress: (c: Context<Env>) => string,
): WithContext {
  return async function withContext(c, handle) {
    const jar = sessionCookieJar(cookieName);
    const rateLimits = rateLimitJar();
    const apiKey = bearerToken(c.req.header("authorization"));
    const ctx = createContext({
      services,
      requestId: c.get("requestId"),
      clientAddress: clientAddress(c),
      // One credential per request: with an API key the session cookie is not even read.
      sessionToken: apiKey === null ? readCookie(c.req.header("cookie"), cookieName) : null,
      apiKey,
      cookies: jar,
      rateLimits,
    });
    rememberIdentity((key, value) => c.set(key, value), ctx);
    const response = await handle(ctx);
    // Appended in place: wrapping the response anew would turn the server's lightweight
    // Response into a streamed one.
    for (const cookie of jar.headers()) response.headers.append("Set-Cookie", cookie);
    for (const [name, value] of rateLimits.headers()) response.headers.set(name, value);
    return response;
  };
}

function mountTrpc(app: Hono<Env>, withContext: WithContext) {
  app.all("/trpc/*", (c) =>
    withContext(c, (ctx) =>
      fetchRequestHandler({
        endpoint: "/trpc",
        req: c.req.raw,
        router: appRouter,
        // One request, one bounded amount of work: a batch of 900 log-ins is a 400, not 900 log-ins.
        maxBatchSize: TRPC_MAX_BATCH_SIZE,
        createContext: () => {
          // ADR 018: an input takes its key in idempotencyKey; a batch is many calls under one
          // header, so the header is refused here rather than guessed at (REST copies it in).
          if (c.req.header("idempotency-key") !== undefined) throw trpcIdempotencyHeader();
          return ctx;
        },
        onError: ({ error, path }) => {
          if (error.code === "INTERNAL_SERVER_ERROR") logInternal("trpc", ctx.requestId, path, error);
        },
      }),
    ),
  );
}

// The Remix app (and its built assets) for every path the API does not own.
function mountWeb(
  app: Hono<Env>,
  web: WebApp,
  deps: { services: Services; cookieName: string; publicUrl: string; clientAddress: (c: Context<Env>) => string },
) {
  if (web.assetsDir) {
    // Hashed file names: cache for a year. A missing asset is a plain 404, not a page.
    app.use(
      "/assets/*",
      serveStatic({
        root: web.assetsDir,
        onFound: (_path, c) => c.header("Cache-Control", "public, max-age=31536000, immutable"),
      }),
    );
    app.all("/assets/*", (c) => c.text("not found", 404));
  }
  app.all("*", async (c, next) => {
    const path = c.req.path;
    if (API_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`))) return next();
    const node = c.env as HttpBindings | undefined;
    if (web.devMiddleware && node?.incoming && (await viteHandled(web.devMiddleware, node))) {
      return RESPONSE_ALREADY_SENT;
    }
    // Remix's getLoadContext: the server's own services and this request's identity.
    return web.handle(c.req.raw, {
      services: deps.services,
      requestId: c.get("requestId"),
      clientAddress: deps.clientAddress(c),
      sessionCookieName: deps.cookieName,
      publicOrigin: new URL(deps.publicUrl).origin,
      reportError: (error) => logInternal("http", c.get("requestId"), "(web)", error),
    });
  });
}

// Development: Vite's connect middlewares see the raw Node request first. They either answer it
// (a module, the HMR client, CSS) or call next(), and the request goes on to Remix.
function viteHandled(middleware: NonNullable<WebApp["devMiddleware"]>, { incoming, outgoing }: HttpBindings) {
  return new Promise<boolean>((resolve, reject) => {
    const answered = () => resolve(true);
    outgoing.once("finish", answered);
    outgoing.once("close", answered);
    middleware(incoming, outgoing, (error) => {
      outgoing.off("finish", answered);
      outgoing.off("close", answered);
      if (error) reject(error);
      else resolve(false);
    });
  });
}

const trpcIdempotencyHeader = () =>
  new TRPCError({
    code: "BAD_REQUEST",
    message: "/trpc does not read the Idempotency-Key header: send the key in the input's idempotencyKey field",
  });
