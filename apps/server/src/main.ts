import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Services } from "@credits/api";
import { createDatabase, type DatabaseHandle, latestPostings, openHoldTotals, seedDefaults } from "@credits/db";
import { type Env, env as processEnv } from "@credits/env";
import {
  configureErrorReporting,
  createScrapeRegistry,
  errorsTotal,
  logger,
  reportError,
  shutdownTelemetry,
} from "@credits/observability";
import { paymentProviderFromEnv } from "@credits/stripe";
import type { WebApp } from "@credits/web/server";
import { serve } from "@hono/node-server";
import { createApp } from "./app.ts";
import { startBalanceFeed } from "./balance-feed.ts";
import { answerClientError } from "./http-errors.ts";
import { startMailSender } from "./mail-sender.ts";
import { createReconciliationScheduler } from "./scheduler.ts";
import { createServices } from "./services.ts";
import { startWebhookWorker } from "./webhook-worker.ts";

const HOLD_SWEEP_INTERVAL_MS = 30_000;
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
  const database =
    given ??
    createDatabase({
      url: env.DATABASE_URL,
      dataDir: env.DATA_DIR,
      poolMax: env.DATABASE_POOL_MAX,
      prepare: env.DATABASE_PREPARE,
      readUrl: env.DATABASE_READ_URL,
    });
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
    services,
    localProvider: local,
    publicUrl: env.PUBLIC_URL,
    corsOrigins: env.CORS_ORIGINS,
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    trustProxy: env.TRUST_PROXY,
    production: env.NODE_ENV === "production",
    metrics: {
      // Event counters from the whole process, plus figures read from this server's database.
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
    balanceEvents: { feed: balanceFeed, heartbeatMs: env.EVENTS_HEARTBEAT_SECONDS * 1000 },
    devMail: database.db,
    web,
    ready: async () => {
      if (shuttingDown) return false;
      const timeout = new Promise<false>((resolve) => setTimeout(resolve, READY_TIMEOUT_MS, false).unref());
      // The database answers, and has every migration this code expects.
      const ping = database
        .ping()
        .then(() => database.migrationsApplied())
        .catch(() => false);
      return Promise.race([ping, timeout]);
    },
  });

  // Without a createServer option, serve() makes a node:http server.
  const server = serve({ fetch: app.fetch, port: env.PORT, hostname: env.HOST }) as Server;
  server.keepAliveTimeout = env.HTTP_KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = env.HTTP_HEADERS_TIMEOUT_MS;
  server.requestTimeout = env.HTTP_REQUEST_TIMEOUT_MS;
  server.on("clientError", answerClientError);
  await new Promise<void>((resolve) => server.once("listening", resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const webMode = web ? (web.mode === "development" ? "vite dev" : "built") : "none";
  log(`credits server listening on ${url} (database: ${database.driver}, payments: ${provider.name}, web: ${webMode})`);
  // The one line that ever shows the setup token: it is kept only as a hash, in this process.
  const setupToken = await services.firstAdmin.open();
  if (setupToken) {
    log(
      `no admin yet: open ${new URL("/setup", env.PUBLIC_URL).href} and enter the one-time setup token ${setupToken} ` +
        "(valid for an hour, until this server stops, or until used)",
    );
  }

  const sweep = setInterval(() => {
    services.credits.expireHolds().catch((error) => reportError(error, { where: "job", route: "hold-expiry" }));
    // Ended rate-limit windows, so a flood of distinct keys leaves no lasting rows.
    services.authThrottle
      .purgeExpired()
      .catch((error) => reportError(error, { where: "job", route: "rate-limit-purge" }));
  }, HOLD_SWEEP_INTERVAL_MS);
  sweep.unref();
  const grantSweep = setInterval(() => {
    services.credits.expireGrants().catch((error) => reportError(error, { where: "job", route: "grant-expiry" }));
    services.expiryNotices
      .runOnce()
      .catch((error) => reportError(error, { where: "job", route: "grant-expiry-notice" }));
  }, env.EXPIRY_SWEEP_INTERVAL_SECONDS * 1000);
  grantSweep.unref();
  const mailSender = startMailSender(env, services.mail);
  // Tests start many servers: they opt in to the daily reconciliation explicitly.
  const reconciler =
    (env.RECONCILE_ENABLED ?? env.NODE_ENV !== "test")
      ? createReconciliationScheduler({
          reconciliation: services.reconciliation,
          timeOfDay: env.RECONCILE_SCHEDULE,
          closeTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
          log: ({ level, message, ...fields }) => {
            if (level === "error") errorsTotal.inc({ where: "job" });
            logger[level]({ job: "reconciliation", ...fields }, message);
          },
        })
      : null;
  reconciler?.start();
  // Tests start many servers: they opt in to delivering webhooks explicitly.
  const webhookWorker =
    (env.WEBHOOK_WORKER_ENABLED ?? env.NODE_ENV !== "test")
      ? startWebhookWorker({
          webhooks: services.webhooks,
          pollIntervalMs: env.WEBHOOK_POLL_INTERVAL_MS,
          onError: (error) => reportError(error, { where: "job", route: "webhook-delivery" }),
        })
      : null;
  // Auto top-up charges run on the same kind of loop: a pass claims due attempts (SKIP LOCKED).
  const autoTopUpWorker =
    (env.AUTO_TOPUP_WORKER_ENABLED ?? env.NODE_ENV !== "test")
      ? startWebhookWorker({
          webhooks: { deliverDue: services.autoTopUp.runOnce },
          pollIntervalMs: env.AUTO_TOPUP_POLL_INTERVAL_MS,
          onError: (error) => reportError(error, { where: "job", route: "auto-topup" }),
        })
      : null;

  return {
    url,
    services,
    httpServer: server,
    // Graceful: readiness turns 503, no new connections, in-flight requests finish (up to the
    // timeout), then the database closes.
    async close() {
      shuttingDown = true;
      clearInterval(sweep);
      clearInterval(grantSweep);
      await mailSender.stop();
      const reconcilerClosed = reconciler?.close();
      // Open event streams end now rather than hold the shutdown until its timeout.
      await balanceFeed.stop();
      const webhooksClosed = webhookWorker?.close();
      const autoTopUpClosed = autoTopUpWorker?.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if ("closeIdleConnections" in server) server.closeIdleConnections();
      const forced = setTimeout(() => {
        if ("closeAllConnections" in server) server.closeAllConnections();
      }, env.SHUTDOWN_TIMEOUT_MS);
      await closed;
      clearTimeout(forced);
      await reconcilerClosed;
      await webhooksClosed;
      await autoTopUpClosed;
      if (!given) await database.close();
    },
  };
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
