import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Services } from "@credits/api";
import { createDatabase, type DatabaseHandle, latestPostings, openHoldTotals, seedDefaults } from "@credits/db";
import { type Env, env as processEnv } from "@credits/env";
import {
  configureErrorReporting,
  createScrapeRegistry,
  logger,
  reportError,
  shutdownTelemetry,
} from "@credits/observability";
import { paymentProviderFromEnv } from "@credits/stripe";
import type { WebApp } from "@credits/web/server";
import { serve } from "@hono/node-server";
import { createApp } from "./app.ts";
import { startBackgroundJobs } from "./background-jobs.ts";
import { startBalanceFeed } from "./balance-feed.ts";
import { answerClientError } from "./http-errors.ts";
import { createServices } from "./services.ts";

const READY_TIMEOUT_MS = 1_000;

export interface RunningServer {
  url: string;
  // The process's own services: tests use them to arrange and check state beside the HTTP calls.
  services: Services;
  // The Node HTTP server: tests read its timeouts.
  httpServer: Server;
  close(): Promise<void>;
}

// Starts the whole process: database (migrated and seeded), services, HTTP server, background
// sweeps. Tests start it too, on port 0, and talk to it over real HTTP.
export async function startServer(
  env: Env,
  // A database the caller owns (tests pass their own); otherwise one from env, closed on close().
  // The web app (Remix), also the caller's to close; without it the server serves the API only.
  {
    database: given,
    web = null,
    log = (line: string) => logger.info(line),
  }: { database?: DatabaseHandle; web?: WebApp | null; log?: (line: string) => void } = {},
): Promise<RunningServer> {
  const database = given ?? databaseFromEnv(env);
  await database.migrate();
  await seedDefaults(database.db);
  configureErrorReporting({ url: env.ERROR_WEBHOOK_URL, timeoutMs: env.ERROR_WEBHOOK_TIMEOUT_MS });
  const { provider, local } = paymentProviderFromEnv(env);
  const services = createServices(env, { db: database.db, readDb: database.readDb, provider });
  await services.alerts.setDefaultThreshold(env.LOW_BALANCE_THRESHOLD_DEFAULT);
  const balanceFeed = startBalanceFeed({
    readLatest: (userIds) => latestPostings(database.db, userIds),
    perUser: env.EVENTS_MAX_STREAMS_PER_USER,
    total: env.EVENTS_MAX_STREAMS,
    intervalMs: env.EVENTS_POLL_INTERVAL_MS,
    onError: (error) => reportError(error, { where: "job", route: "balance-feed" }),
  });
  let shuttingDown = false;
  const app = createApp({
    ...appOptions(env, services, database),
    localProvider: local,
    balanceEvents: { feed: balanceFeed, heartbeatMs: env.EVENTS_HEARTBEAT_SECONDS * 1000 },
    web,
    ready: () => (shuttingDown ? Promise.resolve(false) : databaseReady(database)),
  });
  const server = await listen(env, app.fetch);
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const webMode = web ? (web.mode === "development" ? "vite dev" : "built") : "none";
  log(`credits server listening on ${url} (database: ${database.driver}, payments: ${provider.name}, web: ${webMode})`);
  await announceSetupToken(env, services, log);
  const jobs = startBackgroundJobs(env, services);

  return {
    url,
    services,
    httpServer: server,
    // Graceful: readiness turns 503, no new connections, in-flight requests finish (up to the
    // timeout), then the database closes.
    async close() {
      shuttingDown = true;
      jobs.stopSweeps();
      await jobs.mailSender.stop();
      const reconcilerClosed = jobs.reconciler?.close();
      // Open event streams end now rather than hold the shutdown until its timeout.
      await balanceFeed.stop();
      const webhooksClosed = jobs.webhookWorker?.close();
      const autoTopUpClosed = jobs.autoTopUpWorker?.close();
      await closeHttpServer(server, env.SHUTDOWN_TIMEOUT_MS);
      await reconcilerClosed;
      await webhooksClosed;
      await autoTopUpClosed;
      if (!given) await database.close();
    },
  };
}

function databaseFromEnv(env: Env): DatabaseHandle {
  return createDatabase({
    url: env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    poolMax: env.DATABASE_POOL_MAX,
    prepare: env.DATABASE_PREPARE,
    readUrl: env.DATABASE_READ_URL,
  });
}

// The app's settings from env, and its /metrics: event counters from the whole process, plus
// figures read from this server's database.
function appOptions(env: Env, services: Services, database: DatabaseHandle) {
  return {
    services,
    publicUrl: env.PUBLIC_URL,
    corsOrigins: env.CORS_ORIGINS,
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    trustProxy: env.TRUST_PROXY,
    production: env.NODE_ENV === "production",
    metrics: {
      registry: createScrapeRegistry({
        holdsOpen: () => openHoldTotals(database.db),
        lastReconciliation: async () => {
          const run = await services.reconciliation.lastSuccessfulRun();
          return run ? { finishedAt: run.finishedAt, findings: run.stats?.findings ?? {} } : null;
        },
        pool: () => database.poolStats(),
      }),
      access: {
        token: env.METRICS_TOKEN,
        loopbackOnly: env.METRICS_BIND === "loopback",
        refuseForwarded: env.NODE_ENV === "production",
      },
    },
    devMail: database.db,
  };
}

// The database answers, and has every migration this code expects, within the readiness timeout.
function databaseReady(database: DatabaseHandle): Promise<boolean> {
  const timeout = new Promise<false>((resolve) => setTimeout(resolve, READY_TIMEOUT_MS, false).unref());
  const ping = database
    .ping()
    .then(() => database.migrationsApplied())
    .catch(() => false);
  return Promise.race([ping, timeout]);
}

async function listen(env: Env, fetch: (request: Request) => Response | Promise<Response>): Promise<Server> {
  // Without a createServer option, serve() makes a node:http server.
  const server = serve({ fetch, port: env.PORT, hostname: env.HOST }) as Server;
  server.keepAliveTimeout = env.HTTP_KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = env.HTTP_HEADERS_TIMEOUT_MS;
  server.requestTimeout = env.HTTP_REQUEST_TIMEOUT_MS;
  server.on("clientError", answerClientError);
  await new Promise<void>((resolve) => server.once("listening", resolve));
  return server;
}

// The one line that ever shows the setup token: it is kept only as a hash, in this process.
async function announceSetupToken(env: Env, services: Services, log: (line: string) => void): Promise<void> {
  const setupToken = await services.firstAdmin.open();
  if (setupToken) {
    log(
      `no admin yet: open ${new URL("/setup", env.PUBLIC_URL).href} and enter the one-time setup token ${setupToken} ` +
        "(valid for an hour, until this server stops, or until used)",
    );
  }
}

// No new connections; in-flight requests finish, or are cut after the timeout.
async function closeHttpServer(server: Server, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  if ("closeIdleConnections" in server) server.closeIdleConnections();
  const forced = setTimeout(() => {
    if ("closeAllConnections" in server) server.closeAllConnections();
  }, timeoutMs);
  await closed;
  clearTimeout(forced);
}
if (import.meta.main) {
  // Development: Remix through Vite's dev middleware (hot reload); otherwise the build of
  // `pnpm build` (apps/web/build), which must exist. Loaded here only: tests pass their own.
  const { createWebApp } = await import("@credits/web/server");
  const web = await createWebApp({ mode: processEnv.NODE_ENV === "development" ? "development" : "production" });
  const running = await startServer(processEnv, { web });
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      logger.info({ signal }, `${signal}: shutting down`);
      running
        .close()
        .then(() => web.close())
        .then(
          // Spans still buffered go to the collector first (bounded; nothing to do without one).
          () => shutdownTelemetry().finally(() => process.exit(0)),
          (error) => {
            logger.error({ err: error }, "shutdown failed");
            process.exit(1);
          },
        );
    });
  }
}
