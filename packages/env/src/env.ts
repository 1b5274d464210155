import { z } from "zod";

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
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  // Loopback unless told otherwise: a development server is not for the network (the Docker image
  // sets 0.0.0.0).
  HOST: z.string().default("127.0.0.1"),
  // Where people reach the app: checkout return URLs, the CSRF origin check and the cookie name.
  PUBLIC_URL: z.url().default("http://localhost:3000"),
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
  // Take the client address from X-Forwarded-For (only behind a proxy that sets it).
  TRUST_PROXY: z.stringbool().default(false),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  // Adjustments larger than this (absolute credits) need a second admin's approval.
  ADMIN_APPROVAL_THRESHOLD: z.coerce.number().int().min(0).default(10_000),
  ADMIN_APPROVAL_TTL_HOURS: z.coerce.number().positive().default(72),
  // The daily reconciliation against the payment provider. Unset: on, except under NODE_ENV=test.
  RECONCILE_ENABLED: z.stringbool().optional(),
  // UTC time of day (HH:MM) the daily run is due; an instance started later that day runs it then.
  RECONCILE_SCHEDULE: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, "must be a UTC time of day, HH:MM")
    .default("03:00"),
  // How many days back each run looks: a day missed (an outage) is still covered the next days.
  RECONCILE_WINDOW_DAYS: z.coerce.number().int().min(1).max(31).default(3),
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
});

export type Env = z.infer<typeof schema>;

const checked = schema
  .refine((env) => !env.STRIPE_SECRET_KEY || env.STRIPE_WEBHOOK_SECRET, {
    message: "STRIPE_WEBHOOK_SECRET is required with STRIPE_SECRET_KEY",
    path: ["STRIPE_WEBHOOK_SECRET"],
  })
  .refine((env) => env.NODE_ENV !== "production" || env.STRIPE_SECRET_KEY || env.ALLOW_LOCAL_PAYMENTS, {
    message: "production needs STRIPE_SECRET_KEY (or ALLOW_LOCAL_PAYMENTS=true for a demo with free test checkouts)",
    path: ["STRIPE_SECRET_KEY"],
  });

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
