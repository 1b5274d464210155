import { isIP } from "node:net";
import { z } from "zod";

// Amounts per currency (ADMIN_REFUND_APPROVAL_MINOR, the auto top-up amount caps): `currency:amount`
// pairs (lowercase ISO 4217, integer minor units). One parser, so they are written and read alike.
const minorPerCurrency = (defaults: string) =>
  z
    .string()
    .default(defaults)
    .transform((value, ctx): Record<string, number> => {
      const amounts: Record<string, number> = {};
      for (const pair of value.split(",").map((entry) => entry.trim().toLowerCase())) {
        const match = /^([a-z]{3}):(\d{1,12})$/.exec(pair);
        if (!match?.[1] || !match[2] || match[1] in amounts) {
          ctx.addIssue({ code: "custom", message: "give currency:minor-units pairs, e.g. usd:5000,jpy:5000" });
          return z.NEVER;
        }
        amounts[match[1]] = Number(match[2]);
      }
      return amounts;
    });

// TRUST_PROXY: a hop count, or trusted proxy addresses/CIDRs. `true` is refused: trusting every
// hop would take the client-written leftmost X-Forwarded-For entry as the address.
const trustProxy = z
  .string()
  .default("false")
  .transform((value, ctx): number | string[] => {
    const text = value.trim().toLowerCase();
    if (text === "false") return 0;
    if (/^\d{1,2}$/.test(text)) return Number(text);
    if (text === "true") {
      ctx.addIssue({
        code: "custom",
        message: "give the number of proxy hops in front of the server (e.g. 1), or their addresses/CIDRs, not true",
      });
      return z.NEVER;
    }
    const entries = text.split(",").map((entry) => entry.trim());
    const bad = entries.filter((entry) => !isAddressOrCidr(entry));
    if (bad.length > 0) {
      ctx.addIssue({ code: "custom", message: `not a hop count, an address or a CIDR: ${bad.join(", ")}` });
      return z.NEVER;
    }
    return entries;
  });

// The one place that reads process.env. Everything else receives a parsed, typed Env.
const schema = z.object({
  // Unset means production: a deployment that forgets it must not get the free local checkout or
  // development defaults. Every local entry point (pnpm dev, cli, db:migrate, ...) says its mode.
  NODE_ENV: z.enum(["development", "test", "production"]).default("production"),
  // postgres://… selects PostgreSQL (postgres.js); unset runs on embedded PGlite under DATA_DIR.
  DATABASE_URL: z.url().optional(),
  DATA_DIR: z.string().default("./.data"),
  // Tests only: the server that per-file test databases are created on.
  TEST_DATABASE_URL: z.url().optional(),
  // Set by .ci/run: a test whose outside tool (PgBouncer, pg_basebackup) is missing fails there
  // rather than skipping.
  CI: z.stringbool().default(false),
  // The fault harness only (pnpm test:faults): the PostgreSQL server its scenario databases are
  // created on (no database name), and whether it echoes its servers' output.
  FAULTS_PG_URL: z.url().default("postgres://postgres@127.0.0.1:5432"),
  FAULTS_VERBOSE: z.stringbool().default(false),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  // Named prepared statements (postgres.js `prepare`): false behind a transaction-mode pooler
  // (PgBouncer before 1.21) that cannot keep them across transactions.
  DATABASE_PREPARE: z.stringbool().default(true),
  // A streaming replica for reads that tolerate staleness (admin lists and stats, the audit log,
  // the export). Unset: everything reads the primary.
  DATABASE_READ_URL: z.url().optional(),
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  // Loopback unless told otherwise: a development server is not for the network (the Docker image
  // sets 0.0.0.0).
  HOST: z.string().default("127.0.0.1"),
  // Where people reach the app: checkout return URLs, the CSRF origin check and the cookie name.
  // Unset: http://localhost on PORT (below).
  PUBLIC_URL: z.url().optional(),
  // Extra origins allowed to call the API from a browser (comma-separated); default same-origin only.
  CORS_ORIGINS: z
    .string()
    .default("")
    .transform((value) =>
      value
        .split(",")
        .map((origin) => origin.trim())
        .filter(Boolean),
    ),
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1_024)
    .max(10 * 1_048_576)
    .default(102_400),
  // Log-in and sign-up attempts per client address per minute.
  AUTH_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(20),
  // Failed log-ins per (email, client address), and per email from all addresses, per 15 minutes.
  AUTH_FAILED_LOGINS_PER_ADDRESS: z.coerce.number().int().min(1).default(10),
  AUTH_FAILED_LOGINS_PER_EMAIL: z.coerce.number().int().min(1).default(100),
  // Password hashes (argon2id, 19 MiB each) computed at once, and waiting; beyond that a log-in or
  // sign-up is answered 429 at once.
  PASSWORD_HASH_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  PASSWORD_HASH_QUEUE: z.coerce.number().int().min(0).max(10_000).default(64),
  // Which X-Forwarded-For entries to believe: the number of proxies in front of the server, or
  // their addresses / CIDRs (comma-separated). false or 0: the socket address only.
  TRUST_PROXY: trustProxy,
  // Above load balancers' idle timeouts (ALB: 60 s), so the server never closes a connection a
  // balancer is about to reuse; headers within HTTP_HEADERS_TIMEOUT_MS, a whole request within
  // HTTP_REQUEST_TIMEOUT_MS (slow clients cannot hold sockets forever).
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(1).max(3_600_000).default(65_000),
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1).max(3_600_000).default(66_000),
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1).max(3_600_000).default(120_000),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  // Checkout and confirm calls per user per minute: each one reaches the payment provider.
  CHECKOUT_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).default(10),
  // GDPR exports per user per hour: each reads the user's whole ledger.
  GDPR_EXPORT_RATE_LIMIT_PER_HOUR: z.coerce.number().int().min(1).max(1_000).default(10),
  // How often the server records the expiry of credit grants past their expiresAt (reads and
  // spends see them gone at once; the sweep writes their expiry rows).
  EXPIRY_SWEEP_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  // credits.expiring (webhook and email): a grant with credits left is announced this many days
  // before its expiresAt, once, by the same sweep.
  CREDITS_EXPIRING_NOTICE_DAYS: z.coerce.number().int().min(1).max(365).default(7),
  // Adjustments larger than this (absolute credits) need a second admin's approval.
  ADMIN_APPROVAL_THRESHOLD: z.coerce.number().int().min(0).default(10_000),
  ADMIN_APPROVAL_TTL_HOURS: z.coerce.number().positive().default(72),
  // The threshold bounds the adjustments one user gets without a second admin within this window
  // in all (many small ones add up like one large one).
  ADMIN_APPROVAL_WINDOW_HOURS: z.coerce.number().positive().max(8_760).default(24),
  // Refunds larger than this (minor units, per currency: `usd:5000,jpy:5000`) need a second
  // admin's approval, as adjustments do; a currency not listed: every refund in it does.
  ADMIN_REFUND_APPROVAL_MINOR: minorPerCurrency("usd:5000,eur:5000,gbp:5000,jpy:5000"),
  // The daily reconciliation against the payment provider. Unset: on, except under NODE_ENV=test.
  RECONCILE_ENABLED: z.stringbool().optional(),
  // UTC time of day (HH:MM) the daily run is due; an instance started later that day runs it then.
  RECONCILE_SCHEDULE: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, "must be a UTC time of day, HH:MM")
    .default("03:00"),
  // How many days back each run looks: a day missed (an outage) is still covered the next days.
  RECONCILE_WINDOW_DAYS: z.coerce.number().int().min(1).max(31).default(3),
  // Outbound webhooks. Endpoints on private, loopback, link-local or other special addresses (and
  // plain http) are refused, when registered and at every delivery, unless this allows them
  // (development and tests only).
  OUTBOUND_WEBHOOKS_ALLOW_PRIVATE: z.stringbool().default(false),
  // The delivery worker (claims due deliveries every WEBHOOK_POLL_INTERVAL_MS). Unset: on, except
  // under NODE_ENV=test.
  WEBHOOK_WORKER_ENABLED: z.stringbool().optional(),
  WEBHOOK_POLL_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(1_000),
  // One attempt's whole time (connect, send, answer headers and excerpt).
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  // Attempts per delivery, and the backoff between them (doubling from the base up to the max,
  // with jitter): the defaults span about a day.
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(14),
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).max(3_600_000).default(30_000),
  WEBHOOK_RETRY_MAX_MS: z.coerce.number().int().min(10).max(86_400_000).default(21_600_000),
  // Deliveries in a row that used up every attempt before an endpoint is disabled (and admins told).
  WEBHOOK_DISABLE_AFTER_FAILED_DELIVERIES: z.coerce.number().int().min(1).max(1_000).default(5),
  // Auto top-up: the worker that charges saved cards (claims due attempts every
  // AUTO_TOPUP_POLL_INTERVAL_MS; unset: on, except under NODE_ENV=test), and the caps: charges per
  // user per UTC day and per UTC month, and the amount they add up to with this one (minor units,
  // per currency: `usd:20000,jpy:30000`; a currency not listed: no top-up in it). A crossing past a
  // cap charges nothing (auto_topup.failed, reason cap_reached).
  AUTO_TOPUP_WORKER_ENABLED: z.stringbool().optional(),
  // Delete erased users' customers at the provider in the erasure worker's passes (default: on,
  // off under NODE_ENV=test: tests share a database, and run a pass themselves). The worker's other
  // work (open checkouts to expire, erasure refunds) runs whatever this says, except under
  // NODE_ENV=test with the flag unset.
  GDPR_CUSTOMER_DELETE_ENABLED: z.stringbool().optional(),
  AUTO_TOPUP_POLL_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(1_000),
  AUTO_TOPUP_MAX_PER_DAY: z.coerce.number().int().min(1).max(100).default(5),
  AUTO_TOPUP_MAX_PER_MONTH: z.coerce.number().int().min(1).max(1_000).default(30),
  AUTO_TOPUP_MAX_AMOUNT_PER_DAY_MINOR: minorPerCurrency("usd:20000,eur:20000,gbp:20000,jpy:30000"),
  AUTO_TOPUP_MAX_AMOUNT_PER_MONTH_MINOR: minorPerCurrency("usd:100000,eur:100000,gbp:100000,jpy:150000"),
  // After a secret rotation, the old secret signs beside the new one this long.
  WEBHOOK_SECRET_OVERLAP_HOURS: z.coerce.number().min(0).max(720).default(24),
  // Observability. Unset LOG_LEVEL: info (silent under NODE_ENV=test unless LOG_DESTINATION is set).
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).optional(),
  // A file to append the JSON log lines to, instead of stdout.
  LOG_DESTINATION: z.string().optional(),
  // OTLP/HTTP collector base URL (…/v1/traces is appended); unset: spans are not exported.
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  OTEL_SERVICE_NAME: z.string().default("credits-server"),
  // /metrics: a Bearer token it requires when set; `loopback` serves it to 127.0.0.1/::1 only.
  METRICS_TOKEN: z.string().min(16).optional(),
  METRICS_BIND: z.enum(["loopback", "any"]).default("loopback"),
  // Unhandled errors are also POSTed (redacted JSON) here, fire-and-forget, within the timeout.
  ERROR_WEBHOOK_URL: z.url().optional(),
  ERROR_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(3_000),
  // The local test-mode provider's Pay button credits anyone for free: production refuses to start
  // on it unless this says it is wanted (a demo deployment).
  ALLOW_LOCAL_PAYMENTS: z.stringbool().default(false),
  // Unset: the built-in local provider (test mode, no Stripe account needed).
  STRIPE_SECRET_KEY: z.string().startsWith("sk_").optional(),
  STRIPE_WEBHOOK_SECRET: z.string().startsWith("whsec_").optional(),
  // A Stripe-compatible server (e.g. stripe-mock) instead of api.stripe.com.
  STRIPE_API_BASE: z.url().optional(),
  // Per-attempt timeout of a Stripe API call (the SDK retries twice); unset: 10 s. Tests shorten it.
  STRIPE_TIMEOUT_MS: z.coerce.number().int().min(1).max(120_000).optional(),
  // Stripe Checkout offers a promotion code field; credits still come from the pack, the amount
  // paid is what the session says (its discount recorded on the payment).
  STRIPE_ALLOW_PROMOTION_CODES: z.stringbool().default(false),
  // Stripe Tax computes tax on top of the pack's price (prices are sent tax-exclusive).
  STRIPE_AUTOMATIC_TAX: z.stringbool().default(false),
  // smtp://user:pass@host:587 or smtps://…:465; unset: mail goes to the local outbox (/dev/mail).
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/[^\s]+$/, "must be an smtp:// or smtps:// URL")
    .optional(),
  MAIL_FROM: z.string().min(3).max(200).default("Credits <no-reply@localhost>"),
  // How often each instance looks for mail to send (queued by the ledger, erasure, …).
  MAIL_POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(2_000),
  // The low-balance threshold of users who set none (0: no alert unless they set one).
  LOW_BALANCE_THRESHOLD_DEFAULT: z.coerce.number().int().min(0).max(1_000_000_000).default(100),
  // Live balance (GET /api/v1/me/events): open streams per user and per instance, and how often
  // each stream gets a heartbeat (which also re-checks its session).
  EVENTS_MAX_STREAMS_PER_USER: z.coerce.number().int().min(1).max(100).default(5),
  EVENTS_MAX_STREAMS: z.coerce.number().int().min(1).max(100_000).default(1_000),
  EVENTS_HEARTBEAT_SECONDS: z.coerce.number().int().min(1).max(300).default(15),
  // How often each instance reads the newest ledger row of the users it streams to (ADR 020): the
  // most a balance change waits before it reaches an open page.
  EVENTS_POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(10_000).default(500),
});

export type Env = z.output<typeof checked>;

// proxy-addr's names for private ranges, as its trust lists accept them.
const NAMED_RANGES = new Set(["loopback", "linklocal", "uniquelocal"]);
function isAddressOrCidr(entry: string): boolean {
  if (NAMED_RANGES.has(entry)) return true;
  const [address = "", prefix, extra] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

const checked = schema
  .refine((env) => !env.STRIPE_SECRET_KEY || env.STRIPE_WEBHOOK_SECRET, {
    message: "STRIPE_WEBHOOK_SECRET is required with STRIPE_SECRET_KEY",
    path: ["STRIPE_WEBHOOK_SECRET"],
  })
  .refine((env) => env.NODE_ENV !== "production" || env.STRIPE_SECRET_KEY || env.ALLOW_LOCAL_PAYMENTS, {
    message: "production needs STRIPE_SECRET_KEY (or ALLOW_LOCAL_PAYMENTS=true for a demo with free test checkouts)",
    path: ["STRIPE_SECRET_KEY"],
  })
  // Node closes a keep-alive connection whose next request's headers are late: that timer must
  // outlast the idle one, and a whole request may take at least as long as its headers.
  .refine((env) => env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_KEEP_ALIVE_TIMEOUT_MS, {
    message: "must be above HTTP_KEEP_ALIVE_TIMEOUT_MS",
    path: ["HTTP_HEADERS_TIMEOUT_MS"],
  })
  .refine((env) => env.HTTP_REQUEST_TIMEOUT_MS >= env.HTTP_HEADERS_TIMEOUT_MS, {
    message: "must be at least HTTP_HEADERS_TIMEOUT_MS",
    path: ["HTTP_REQUEST_TIMEOUT_MS"],
  })
  // Served to every address with nothing to ask of the caller: production needs the token then.
  .refine((env) => env.NODE_ENV !== "production" || env.METRICS_BIND !== "any" || env.METRICS_TOKEN, {
    message: "METRICS_BIND=any in production needs METRICS_TOKEN",
    path: ["METRICS_TOKEN"],
  })
  .refine((env) => env.AUTH_FAILED_LOGINS_PER_EMAIL >= env.AUTH_FAILED_LOGINS_PER_ADDRESS, {
    message: "the per-email ceiling must be at least AUTH_FAILED_LOGINS_PER_ADDRESS",
    path: ["AUTH_FAILED_LOGINS_PER_EMAIL"],
  })
  // A development server on another PORT is reached there (PORT=3999 pnpm dev: its start-up
  // message's /setup link, the CSRF origin). A port picked at listen time (0) is not known yet:
  // 3000 then, as before; such servers (the tests) set PUBLIC_URL.
  .transform((env) => ({ ...env, PUBLIC_URL: env.PUBLIC_URL ?? `http://localhost:${env.PORT || 3000}` }));

export function parseEnv(source: Record<string, string | undefined>): Env {
  const blanksRemoved = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ""));
  const parsed = checked.safeParse(blanksRemoved);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new Error(`invalid environment:\n  ${problems.join("\n  ")}`);
  }
  return parsed.data;
}

export const env: Env = parseEnv(process.env);
