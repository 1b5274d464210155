import { env } from "@credits/env";
import { isSpanContextValid, trace } from "@opentelemetry/api";
import pino, { type DestinationStream, type Level, type LevelWithSilent, type Logger } from "pino";
import { redact, redactText } from "./redact.ts";

// The process's one logger: pino JSON on stdout (or LOG_DESTINATION), every line passed through
// redact(), and the active span's trace id on every line written inside a span. Logging is
// process-wide configuration, read once from the environment like everything else.

type Tap = (line: string) => void;
const taps = new Set<Tap>();

// Tests run servers in-process: unless LOG_LEVEL or LOG_DESTINATION says otherwise, nothing is
// written under NODE_ENV=test, and lines exist only for a capture (captureLogs) to read.
const quietTests = env.NODE_ENV === "test" && !env.LOG_LEVEL && !env.LOG_DESTINATION;

function defaultLevel(): LevelWithSilent {
  return env.LOG_LEVEL ?? (quietTests ? "silent" : "info");
}

function primaryDestination(): DestinationStream | null {
  if (quietTests) return null;
  // Synchronous writes: a line is out before the process exits.
  if (env.LOG_DESTINATION)
    return pino.destination({ dest: env.LOG_DESTINATION, sync: true, append: true, mkdir: true });
  return pino.destination({ dest: 1, sync: true });
}

const primary = primaryDestination();
const sink: DestinationStream = {
  write(line: string) {
    primary?.write(line);
    for (const tap of taps) tap(line);
  },
};

export const logger: Logger = pino(
  {
    level: defaultLevel(),
    base: { service: env.OTEL_SERVICE_NAME },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Errors are already { type, message, stack, cause } from redact() (formatters.log below runs
    // first); pino's own err serializer would re-read them as plain objects.
    serializers: { err: (value: unknown) => value },
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => redact(object) as Record<string, unknown>,
    },
    mixin() {
      const context = trace.getActiveSpan()?.spanContext();
      return context && isSpanContextValid(context) ? { traceId: context.traceId, spanId: context.spanId } : {};
    },
    hooks: {
      // The message string too: `logger.info("signed up %s", email)` must not write the email.
      logMethod(args, method) {
        const cleaned = args.map((arg) => (typeof arg === "string" ? redactText(arg) : arg)) as typeof args;
        method.apply(this, cleaned);
      },
    },
  },
  sink,
);

// pino formats a child's bindings once, at creation, without the formatters above: redact them
// on the way in (for grandchildren too: they inherit this method).
const createChild = logger.child;
logger.child = function child(this: Logger, bindings, options) {
  return createChild.call(this, redact(bindings) as typeof bindings, options);
} as Logger["child"];

// The trace id of the active span, when there is one (for error bodies and reports).
export function activeTraceId(): string | undefined {
  const context = trace.getActiveSpan()?.spanContext();
  return context && isSpanContextValid(context) ? context.traceId : undefined;
}

export interface LogCapture {
  // Every line written since the capture started, as written (JSON text).
  readonly lines: string[];
  entries(): Record<string, unknown>[];
  stop(): void;
}

// Tests: keeps every line logged from now on (and, if the logger was silent, lowers its level so
// there are lines to keep). A configured destination still receives them too.
export function captureLogs(level: Level = "info"): LogCapture {
  const lines: string[] = [];
  const tap: Tap = (line) => lines.push(line);
  taps.add(tap);
  const previous = logger.level;
  if (logger.levelVal > (logger.levels.values[level] ?? 30)) logger.level = level;
  return {
    lines,
    entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    stop() {
      taps.delete(tap);
      if (taps.size === 0) logger.level = previous;
    },
  };
}
