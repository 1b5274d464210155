import { defineProject } from "vitest/config";

// Browser tests: the real server (in this process, on the test file's own database) serving
// the production build of the app, driven by Chromium. No Remix plugin here: the tests run
// the built app, as `pnpm start` does.
export default defineProject({
  test: {
    name: "e2e",
    include: ["test/**/*.e2e.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
