import { defineProject } from "vitest/config";
import { findChromium, INSTALL_HINT } from "./test/chromium.ts";

// Browser tests: the real server (in this process, on the test file's own database) serving
// the production build of the app, driven by Chromium. No Remix plugin here: the tests run
// the built app, as `pnpm start` does. Without a Chromium they are skipped with one line saying
// how to get one, except in CI, where a missing browser is a failure.
const chromium = findChromium();
if (!chromium && process.env.CI === "true")
  throw new Error(`CI=true and no Chromium for the browser tests: ${INSTALL_HINT}`);
if (!chromium) console.warn(`browser tests skipped: no Chromium found; ${INSTALL_HINT}`);

export default defineProject({
  test: {
    name: "e2e",
    include: chromium ? ["test/**/*.e2e.test.ts"] : ["test/no-chromium.notice.ts"],
    globalSetup: chromium ? ["test/global-setup.ts"] : [],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // After the unit and contract projects, one file at a time: a server and its database per file,
    // and the Chromium they share (global-setup.ts), are what two cores carry without the page
    // waits timing out (CI saw a 15 s wait expire when browser files ran beside unit files).
    fileParallelism: false,
    sequence: { groupOrder: 2 },
  },
});
