import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export type { Registry } from "prom-client";

// Prometheus metrics. Event counters live in one process-wide registry (the code that sees the
// event increments them: the ledger store, the payment store, the webhook route); figures read
// from the database at scrape time live in a registry per server (createScrapeRegistry), merged
// with the process one when /metrics answers.

export const processRegistry = new Registry();

// The process's own figures (CPU, memory, GC, event-loop delay) come from observers that
// collectDefaultMetrics starts and nothing stops: collected once per process, in a registry kept on
// globalThis, even where this module is evaluated again (the test workers evaluate it once per test
// file; each evaluation added a GC observer and an event-loop monitor for the worker's lifetime).
const DEFAULT_METRICS = Symbol.for("credits.observability.default-metrics");
const holder = globalThis as { [DEFAULT_METRICS]?: Registry };
if (!holder[DEFAULT_METRICS]) {
  holder[DEFAULT_METRICS] = new Registry();
  collectDefaultMetrics({ register: holder[DEFAULT_METRICS] });
}
const defaultMetrics = holder[DEFAULT_METRICS];

export const httpRequestDuration = new Histogram({
  name: "http_request_duration_seconds",
  help: "HTTP requests by matched route pattern, method and status",
  labelNames: ["method", "route", "status"] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [processRegistry],
});

export const creditsMoved = new Counter({
  name: "credits_moved_total",
  help: "Credits moved through the ledger (absolute amounts), by ledger kind and direction",
  labelNames: ["kind", "direction"] as const,
  registers: [processRegistry],
});

export const ledgerPostings = new Counter({
  name: "ledger_postings_total",
  help: "Ledger rows written, by kind",
  labelNames: ["kind"] as const,
  registers: [processRegistry],
});

export const webhookOutcomes = ["processed", "duplicate", "ignored", "bad_signature", "bad_payload", "failed"] as const;
export type WebhookOutcome = (typeof webhookOutcomes)[number];

// Group commit (ADR 006): how many postings each ledger statement applied; 1 when a posting ran alone.
export const ledgerBatchSize = new Histogram({
  name: "ledger_batch_postings",
  help: "Standalone postings per ledger statement (group commit)",
  buckets: [1, 2, 4, 8, 16, 32, 64],
  registers: [processRegistry],
});

export const webhookEvents = new Counter({
  name: "webhook_events_total",
  help: "Payment provider webhook deliveries, by event type and outcome",
  labelNames: ["type", "outcome"] as const,
  registers: [processRegistry],
});

export const paymentTransitions = new Counter({
  name: "payment_transitions_total",
  help: "Payment status changes, by from and to status",
  labelNames: ["from", "to"] as const,
  registers: [processRegistry],
});

export const errorsTotal = new Counter({
  name: "errors_total",
  help: "Unhandled errors, by where they surfaced (http, trpc, rest, job)",
  labelNames: ["where"] as const,
  registers: [processRegistry],
});

export const stripeRequestDuration = new Histogram({
  name: "stripe_api_duration_seconds",
  help: "Stripe API calls (retries included), by action and outcome",
  labelNames: ["action", "outcome"] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [processRegistry],
});

// Posting hook: the ledger store calls this after a row is written.
export function recordLedgerPosting(kind: string, amount: number) {
  ledgerPostings.inc({ kind });
  creditsMoved.inc({ kind, direction: amount < 0 ? "debit" : "credit" }, Math.abs(amount));
}

// Label values an event can bring are bounded: unknown shapes collapse to "other".
export function boundedLabel(value: string | undefined, maxLength = 64): string {
  if (!value || !/^[\w.:-]+$/.test(value)) return "other";
  return value.slice(0, maxLength);
}

export interface ScrapeSources {
  // Open holds and the credits they reserve.
  holdsOpen(): Promise<{ count: number; credits: number }>;
  // The newest successful reconciliation run: when it finished and its findings by kind.
  lastReconciliation(): Promise<{ finishedAt: Date | null; findings: Record<string, number> } | null>;
  // The connection pool: its configured size and the queries (or transactions) holding or
  // waiting for a connection right now.
  pool(): { max: number; inFlight: number };
}

const SCRAPE_QUERY_TIMEOUT_MS = 2_000;

// The per-server registry, merged with the process one. A figure whose source fails (the database
// is down) is left out of that scrape rather than failing the whole scrape.
export function createScrapeRegistry(sources: ScrapeSources): Registry {
  const registry = new Registry();
  // Two gauges read each figure: one query per scrape, not one per gauge.
  const holdsOpen = sharedWhileInFlight(() => withTimeout(sources.holdsOpen()));
  const lastReconciliation = sharedWhileInFlight(() => withTimeout(sources.lastReconciliation()));
  new Gauge({
    name: "credit_holds_open",
    help: "Credit holds currently open",
    registers: [registry],
    async collect() {
      this.reset();
      const figures = await holdsOpen();
      if (figures) this.set(figures.count);
    },
  });
  new Gauge({
    name: "credit_holds_open_credits",
    help: "Credits reserved by open holds",
    registers: [registry],
    async collect() {
      this.reset();
      const figures = await holdsOpen();
      if (figures) this.set(figures.credits);
    },
  });
  new Gauge({
    name: "reconciliation_last_success_timestamp_seconds",
    help: "When the newest successful reconciliation run finished (Unix time)",
    registers: [registry],
    async collect() {
      this.reset();
      const run = await lastReconciliation();
      if (run?.finishedAt) this.set(run.finishedAt.getTime() / 1000);
    },
  });
  new Gauge({
    name: "reconciliation_findings",
    help: "Findings of the newest successful reconciliation run, by kind",
    labelNames: ["kind"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const run = await lastReconciliation();
      for (const [kind, count] of Object.entries(run?.findings ?? {})) this.set({ kind }, count);
    },
  });
  new Gauge({
    name: "db_pool_max_connections",
    help: "Configured size of the database connection pool",
    registers: [registry],
    collect() {
      this.set(sources.pool().max);
    },
  });
  new Gauge({
    name: "db_queries_in_flight",
    help: "Queries and transactions holding or waiting for a pooled connection",
    registers: [registry],
    collect() {
      this.set(sources.pool().inFlight);
    },
  });
  return Registry.merge([defaultMetrics, processRegistry, registry]);
}

// Shares one load among the callers that ask while it is in flight: the gauges of one scrape are
// collected concurrently, so they share it, and the next scrape reads afresh.
function sharedWhileInFlight<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | null = null;
  return () => {
    pending ??= load().finally(() => {
      pending = null;
    });
    return pending;
  };
}

async function withTimeout<T>(promise: Promise<T>): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<null>((resolve) => {
    timer = setTimeout(resolve, SCRAPE_QUERY_TIMEOUT_MS, null);
  });
  try {
    return await Promise.race([promise.catch(() => null), expired]);
  } finally {
    clearTimeout(timer);
  }
}
