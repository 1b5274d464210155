import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Every test file runs in a new process that compiles the same dependencies again (drizzle, PGlite,
// the Stripe SDK, OpenTelemetry…); Node's compile cache keeps their compiled code between processes
// and runs (about 0.5 s of CPU less per file that loads the server). The workers inherit it from here.
process.env.NODE_COMPILE_CACHE ??= fileURLToPath(new URL("node_modules/.cache/node-compile-cache", import.meta.url));

// Three projects, one command: unit and integration suites, the contract test over what they
// recorded, and the browser tests (apps/e2e, their
// own package: they start the server, which serves the web app; their own config: no Remix
// plugin; a global setup builds the app once).
export default defineConfig({
  test: {
    // Vitest's default on 2 cores is one test file at a time; most files spend much of their time
    // waiting (child processes, HTTP round trips, the browser), so two overlap it (measured under
    // load average ~14: a subset of 8 files took 249 s with one worker, 212 s with two).
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts", "scripts/test/**/*.test.ts"],
          exclude: ["**/node_modules/**", "**/*.e2e.test.ts", "**/*.contract.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          pool: "forks",
          // By default every test file gets a new worker process, which loads and evaluates every
          // dependency again. TEST_REUSE_WORKERS=1 runs the files one after another in the same two
          // workers (isolate: false; Vitest 4 then keeps the worker's module registry between
          // files), so node_modules load once per worker; reused-worker.setup.ts evaluates our own
          // modules again for each file. A 10-file PGlite subset took 52-67 s of CPU that way
          // instead of 104-118 s (issue 13). Not the default yet: the whole suite has not passed
          // that way (README, Tests).
          isolate: process.env.TEST_REUSE_WORKERS !== "1",
          // Every log line of the run is captured and scanned for secrets and personal data at the end.
          // One migrated PGlite image per run, loaded by every test file (no initdb, no migrations).
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
        },
      },
      {
        // After the unit project: checks every answer it recorded against the OpenAPI document.
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
