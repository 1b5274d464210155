import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { startTracing } from "./sdk.ts";

// Tests: the real SDK set-up (same instrumentations, context manager and propagation) with an
// in-memory exporter in place of OTLP. Call it before the server starts, once per test file.
export interface TestTracing {
  exporter: InMemorySpanExporter;
  spans(): ReadableSpan[];
  // Every finished span of one trace.
  trace(traceId: string): ReadableSpan[];
  reset(): void;
  shutdown(): Promise<void>;
}

export function createTestTracing(): TestTracing {
  const exporter = new InMemorySpanExporter();
  const tracing = startTracing({
    serviceName: "credits-test",
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  return {
    exporter,
    spans: () => exporter.getFinishedSpans(),
    trace: (traceId) => exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId),
    reset: () => exporter.reset(),
    shutdown: () => tracing.shutdown(),
  };
}

export { captureLogs, type LogCapture } from "./logger.ts";
