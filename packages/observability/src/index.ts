export {
  configureErrorReporting,
  type ErrorContext,
  type ErrorReporting,
  type ErrorSource,
  reportError,
} from "./errors.ts";
export { activeTraceId, captureLogs, type LogCapture, logger } from "./logger.ts";
export * from "./metrics.ts";
export { REDACTED, redact, redactText } from "./redact.ts";
export { shutdownTelemetry } from "./shutdown.ts";
export { annotateActiveSpan, traced, tracedIterable, withSpan } from "./spans.ts";
