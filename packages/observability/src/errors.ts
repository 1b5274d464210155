import { env } from "@credits/env";
import { activeTraceId, logger } from "./logger.ts";
import { errorsTotal } from "./metrics.ts";
import { redact } from "./redact.ts";

// Unhandled errors: logged (with the trace id, by the logger's mixin), counted, and, when
// ERROR_WEBHOOK_URL is set, reported to it as redacted JSON. The report is fire-and-forget with a
// bounded timeout: it never delays the response, and a failing receiver costs one warning.

export type ErrorSource = "http" | "trpc" | "rest" | "job";

export interface ErrorContext {
  where: ErrorSource;
  requestId?: string | undefined;
  // The route pattern, procedure or job name; never a raw path.
  route?: string | undefined;
}

// Reports beyond this many in flight are dropped: an error storm does not become a socket storm.
const MAX_REPORTS_IN_FLIGHT = 10;
let reportsInFlight = 0;

export interface ErrorReporting {
  // Where to POST each report; undefined: no reports (logs and errors_total only).
  url: string | undefined;
  timeoutMs: number;
}

let reporting: ErrorReporting = { url: env.ERROR_WEBHOOK_URL, timeoutMs: env.ERROR_WEBHOOK_TIMEOUT_MS };

// The server sets this from its own configuration at start (tests start servers with their own).
export function configureErrorReporting(options: ErrorReporting) {
  reporting = options;
}

export function reportError(error: unknown, context: ErrorContext): void {
  errorsTotal.inc({ where: context.where });
  logger.error({ err: error, ...context }, "unhandled error");
  if (reporting.url) send(reporting.url, reporting.timeoutMs, error, context);
}

function send(url: string, timeoutMs: number, error: unknown, context: ErrorContext) {
  if (reportsInFlight >= MAX_REPORTS_IN_FLIGHT) return;
  reportsInFlight += 1;
  const report = redact({
    service: env.OTEL_SERVICE_NAME,
    time: new Date().toISOString(),
    traceId: activeTraceId(),
    ...context,
    error: error instanceof Error ? error : { message: String(error) },
  });
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(report),
    signal: AbortSignal.timeout(timeoutMs),
  })
    .then((response) => {
      // The body is not needed; reading it frees the connection.
      void response.body?.cancel();
      if (!response.ok) logger.warn({ status: response.status }, "error report refused");
    })
    .catch((failure: unknown) => logger.warn({ err: failure }, "error report not delivered"))
    .finally(() => {
      reportsInFlight -= 1;
    });
}
