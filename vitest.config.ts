import { defineConfig } from "vitest/config";

// Two projects, one command: unit and integration suites, and the browser tests (apps/e2e, their
// own package: they start the server, which serves the web app; their own config: no Remix
// plugin; a global setup builds the app once).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts", "scripts/test/**/*.test.ts"],
          exclude: ["**/node_modules/**", "**/*.e2e.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          pool: "forks",
          // Every log line of the run is captured and scanned for secrets and personal data at the end.
          // One migrated PGlite image per run, loaded by every test file (no initdb, no migrations).
          globalSetup: [
            "apps/server/test/observability.global-setup.ts",
            "packages/db/test/pglite-image.global-setup.ts",
          ],
          setupFiles: ["apps/server/test/observability.setup.ts"],
        },
      },
      "apps/e2e/vitest.config.ts",
    ],
  },
});
