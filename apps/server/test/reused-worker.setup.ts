import http from "node:http";
import net from "node:net";
import { closeLeftoverMswServers } from "@credits/stripe/testing/msw-servers";
import { vi } from "vitest";
import { closeLeftoverServers } from "./open-servers.ts";

// Runs first before every test file of the unit and browser (apps/e2e) projects, whose worker
// processes run one test file after another (isolate: false, vitest.config.ts), keeping what Node loaded (drizzle, PGlite, the
// Stripe SDK, msw, Hono…: node_modules, compiled once per worker). This gives each file what a new
// process gave it: every module of ours (packages, apps, test helpers: run by Vitest's module
// runner) is evaluated again, so each file has its own module state and env, and its database
// (packages/db/test/setup.ts: on PGlite the worker's one instance, brought back to the migrated
// image for each file, or a new one when that cannot be trusted); the environment variables the
// worker started with; real timers; no HTTP interception. In a new process (the unit-own-process
// project) there is nothing to reset.
const KEY = Symbol.for("credits.test.reused-worker.start");
const holder = globalThis as { [KEY]?: ReturnType<typeof processState> };
// What a new process has: taken before the worker's first file.
function processState() {
  return {
    env: { ...process.env },
    // What an HTTP interceptor (msw) replaces: fetch, node:http's client, every socket's connect.
    network: { fetch: globalThis.fetch, request: http.request, connect: net.Socket.prototype.connect },
  };
}
holder[KEY] ??= processState();
const start = holder[KEY];

vi.resetModules();
vi.useRealTimers();
for (const name of Object.keys(process.env)) if (!(name in start.env)) delete process.env[name];
Object.assign(process.env, start.env);

// An earlier file that failed while being collected never ran its afterAll hooks: its msw server
// would still intercept this file's requests (a 10 KB URL to our own server then fails msw's
// URL-length check: a 500 from msw, not our 400). Its servers (and a browser file's Chromium
// connection) would go on too, their background jobs beside this file's: closed here (open-servers.ts).
closeLeftoverMswServers();
await closeLeftoverServers();
const now = { fetch: globalThis.fetch, request: http.request, connect: net.Socket.prototype.connect };
const patched = Object.entries(start.network).filter(([name, value]) => now[name as keyof typeof now] !== value);
if (patched.length > 0) {
  const names = patched.map(([name]) => name).join(", ");
  throw new Error(`an earlier test file in this worker left HTTP interception on (${names} replaced)`);
}
