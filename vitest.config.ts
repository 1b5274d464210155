import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Every test file runs in a new process that compiles the same dependencies again (drizzle, PGlite,
// the Stripe SDK, OpenTelemetry…); Node's compile cache keeps their compiled code between processes
// and runs (about 0.5 s of CPU less per file that loads the server). The workers inherit it from here.
process.env.NODE_COMPILE_CACHE ??= fileURLToPath(new URL("node_modules/.cache/node-compile-cache", import.meta.url));

// The unit tests' shared settings; two projects run them (below).
const unit = {
  include: ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts", "scripts/test/**/*.test.ts"],
  exclude: ["**/node_modules/**", "**/*.e2e.test.ts", "**/*.contract.test.ts"],
  testTimeout: 60_000,
  hookTimeout: 60_000,
  pool: "forks" as const,
  // Every log line of the run is captured and scanned for secrets and personal data at the end.
  // One migrated PGlite image per run, loaded by each worker (unit) or test file (unit-own-process)
  // instead of initdb and the migrations.
  // Both unit projects list them: vitest runs every project's global setup before any test, and
  // the second PGlite image setup keeps the first's image (the recordings are emptied twice).
  globalSetup: [
    "apps/server/test/observability.global-setup.ts",
    "packages/db/test/pglite-image.global-setup.ts",
    "apps/server/test/contract/record.global-setup.ts",
  ],
  // Every answer a test's server gives on a documented route is recorded for the contract test.
  // reused-worker.setup.ts first: it resets what a previous file in the same worker left.
  setupFiles: [
    "apps/server/test/reused-worker.setup.ts",
    "apps/server/test/observability.setup.ts",
    "apps/server/test/contract/record.setup.ts",
  ],
  sequence: { groupOrder: 0 },
};

// The test files that need a process of their own (issue 13), and why: what they set up is
// process-wide and outlives the file.
const OWN_PROCESS = [
  // OpenTelemetry's global tracer, meter and propagator providers are set once per process (a
  // second registration is refused), and its instrumentation patches node:http when first loaded:
  // the spans and metrics these files assert would go to an earlier file's providers.
  "apps/server/test/observability-tracing.test.ts",
  "apps/server/test/observability-logs.test.ts",
  // Its refused-connection test (msw's Response.error()) got "timed out" instead of "could not
  // connect" in a full run with reused workers (and passes after the msw files tried one by one):
  // the fetch connection pool (undici's global dispatcher: keep-alive sockets per origin, and every
  // msw file mocks the same http://stripe.test) is process-wide, so a socket of an earlier file
  // can take the request.
  "packages/stripe/test/stripe-provider.test.ts",
];

// Four projects, one command: the unit and integration suites (in reused worker processes, and
// the few files that need a new process each), the contract test over what they recorded, and the
// browser tests (apps/e2e, their own package: they start the server, which serves the web app;
// their own config: no Remix plugin; a global setup builds the app once).
export default defineConfig({
  test: {
    // Vitest's default on 2 cores is one test file at a time; most files spend much of their time
    // waiting (child processes, HTTP round trips, the browser), so two overlap it (measured under
    // load average ~14: a subset of 8 files took 249 s with one worker, 212 s with two).
    maxWorkers: 2,
    projects: [
      {
        test: {
          ...unit,
          name: "unit",
          exclude: [...unit.exclude, ...OWN_PROCESS],
          // A new process per test file loads and evaluates every dependency again (drizzle,
          // PGlite, the Stripe SDK, OpenTelemetry…). Here each of the two workers runs file after
          // file (Vitest 4 keeps the worker's module registry between files), so node_modules load
          // once per worker; reused-worker.setup.ts evaluates our own modules again for each file
          // and resets the environment, timers and HTTP interception. A 10-file PGlite subset took
          // 52-67 s of CPU that way instead of 104-118 s (README, Tests).
          isolate: false,
          // On PGlite, each worker keeps one database and resets it to the migrated image for every
          // file instead of loading the image into a new PGlite per file (packages/db/test/setup.ts,
          // packages/db/src/testing-shared-pglite.ts).
          provide: { sharedPglite: true },
        },
      },
      {
        test: { ...unit, name: "unit-own-process", include: OWN_PROCESS, isolate: true },
      },
      {
        // After the unit projects: checks every answer they recorded against the OpenAPI document.
        test: {
          name: "contract",
          include: ["apps/server/test/contract/*.contract.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          pool: "forks",
          sequence: { groupOrder: 1 },
        },
      },
      "apps/e2e/vitest.config.ts",
    ],
  },
});
