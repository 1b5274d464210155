import { env } from "@credits/env";
import { startTracing } from "./sdk.ts";
import { setTelemetryShutdown } from "./shutdown.ts";

// Loaded before the application: `node --import ./packages/observability/src/tracing.ts …`, so
// the instrumentations are in place before the server's modules load. `pnpm dev`, `pnpm start`
// and the Dockerfile do this; without a collector configured it costs no export and no delay.
const tracing = startTracing({ serviceName: env.OTEL_SERVICE_NAME, otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT });
setTelemetryShutdown(() => tracing.shutdown());
