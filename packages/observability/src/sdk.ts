import { createRequire } from "node:module";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { UndiciInstrumentation } from "@opentelemetry/instrumentation-undici";
import { startNodeSdk } from "@opentelemetry/sdk-node";
import { BatchSpanProcessor, NoopSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace";

// The OpenTelemetry SDK for this process: HTTP server and client spans (node:http for the server,
// undici for fetch, which the Stripe SDK uses) and our manual spans, exported over OTLP/HTTP only
// when a collector is configured. Without one, spans are still made (trace ids in the logs, W3C
// trace context honoured and passed on) but go nowhere, and shutdown has nothing to flush.

export interface TracingOptions {
  serviceName: string;
  // OTLP/HTTP base URL of a collector, e.g. http://localhost:4318; unset: no exporter.
  otlpEndpoint?: string | undefined;
  // Replaces the exporter choice above (tests: an in-memory exporter).
  spanProcessors?: SpanProcessor[];
}

export interface Tracing {
  shutdown(): Promise<void>;
}

// Probes and scrapes are not worth a trace each.
const UNTRACED_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

export function startTracing(options: TracingOptions): Tracing {
  const spanProcessors = options.spanProcessors ?? [
    options.otlpEndpoint
      ? new BatchSpanProcessor({
          exporter: new OTLPTraceExporter({ url: `${options.otlpEndpoint.replace(/\/+$/, "")}/v1/traces` }),
        })
      : new NoopSpanProcessor(),
  ];
  const sdk = startNodeSdk({
    logLevel: "error",
    resourceAttributes: { "service.name": options.serviceName },
    // Only what we configure here: no resource detectors, metric readers or log exporters chosen
    // from OTEL_* variables (metrics are Prometheus, at /metrics; logs are pino, on stdout).
    resourceDetectors: [],
    spanProcessors,
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has((request.url ?? "").split("?")[0] ?? ""),
        // Outgoing calls go through fetch (undici); node:http clients would be covered here.
        requireParentforOutgoingSpans: true,
      }),
      new UndiciInstrumentation(),
    ],
  });
  patchBuiltinHttp();
  return sdk;
}

// The http instrumentation patches node:http when it is require()d. This app and its server
// library load it as an ES module, which that hook does not see; requiring it once here applies
// the patch to the shared module object (Server.prototype.emit), which the ES module view uses too.
function patchBuiltinHttp() {
  const require = createRequire(import.meta.url);
  require("node:http");
  require("node:https");
}
