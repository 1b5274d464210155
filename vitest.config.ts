import { defineConfig } from "vitest/config";

// Two projects, one command: unit and integration suites, and the browser tests of apps/web
// (their own config: no Remix plugin; a global setup builds the app once).
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
        },
      },
      "apps/web/vitest.e2e.config.ts",
    ],
  },
});
