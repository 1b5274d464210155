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
    // After the unit and contract projects (groupOrder), two files at a time (the run's maxWorkers):
    // each file starts its own server on its own database (on PGlite the worker's one, reset to
    // the migrated image for the file), and the Chromium they share (global-setup.ts) gives each
    // test a new context. The phase is mostly CPU (Chromium's
    // renderers and main process, then each file's server and its PGlite), and one file alone
    // keeps about one core busy; two overlap one file's start-up with the other's pages.
    // Browser files never run beside unit files: CI saw a 15 s page wait expire then.
    // Two at a time once failed a gate ("Report ready" never came). Likely cause, fixed: the live
    // balance reloaded the page for the page's own spend when its event came after the action's
    // reload, which clears the form's result (apps/web/app/lib/live-balance.ts, live-balance.e2e).
    fileParallelism: true,
    // Each of the two workers runs file after file, as in the unit project: node_modules load once
    // per worker, and the unit project's reset runs before each file (our modules evaluated again,
    // so each file its own server; the worker's env, real timers, no HTTP interception left on;
    // what a file that failed while collected left open closed). Alone on
    // this 2-core machine: 103-106 s and ~100 s of CPU, against 131 s and ~150 s with a process
    // per file (README, Tests).
    isolate: false,
    setupFiles: ["../server/test/reused-worker.setup.ts"],
    provide: { sharedPglite: true },
    sequence: { groupOrder: 2 },
  },
});
