import { vi } from "vitest";

// Runs first before every test file of the unit project. With TEST_REUSE_WORKERS=1 (isolate:
// false, vitest.config.ts) a worker process runs one test file after another, keeping what Node
// loaded (drizzle, PGlite, the Stripe SDK, msw, Hono…: node_modules, compiled once per worker).
// This gives each file what a new process gave it: every module of ours (packages, apps, test
// helpers: run by Vitest's module runner) is evaluated again, so each file has its own database
// (packages/db/test/setup.ts), env and module state; the environment variables the worker started
// with; real timers. In a new process (the default) there is nothing to reset.
const KEY = Symbol.for("credits.test.reused-worker.env");
const holder = globalThis as { [KEY]?: NodeJS.ProcessEnv };
holder[KEY] ??= { ...process.env };
const startEnv = holder[KEY];

vi.resetModules();
vi.useRealTimers();
for (const name of Object.keys(process.env)) if (!(name in startEnv)) delete process.env[name];
Object.assign(process.env, startEnv);
