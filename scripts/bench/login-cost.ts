// What a log-in costs: milliseconds per password hash and verification (argon2id at the production
// parameters, beside the scrypt hashes stored before it), and the server's peak RSS while N log-ins
// arrive at once, with the default hashing limits and with them lifted.
//
//   NODE_ENV=test node scripts/bench/login-cost.ts [--concurrent 200] [--runs 20]
//
// Each server runs in its own process (its own RSS, sampled every 2 ms), on a fresh database of the
// local PostgreSQL (BENCH_ADMIN_URL, as `pnpm bench`), dropped at the end.
import { spawn } from "node:child_process";
import { scrypt } from "node:crypto";
import { createInterface } from "node:readline";
import { createPasswordHasher } from "@credits/core";
import { withDatabase } from "@credits/db/testing";
import { parseEnv } from "@credits/env";
import { startServer } from "@credits/server/main";
import postgres from "postgres";

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const CONCURRENT = option("concurrent", 200);
const RUNS = option("runs", 20);
const ADMIN_URL = process.env.BENCH_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const PASSWORD = "a long enough password";
const EMAIL = "bench-login@example.com";

async function msPer(runs: number, work: () => Promise<unknown>): Promise<number> {
  await work();
  const started = performance.now();
  for (let i = 0; i < runs; i++) await work();
  return (performance.now() - started) / runs;
}

async function hashCosts() {
  const hasher = createPasswordHasher();
  const hash = await hasher.hash(PASSWORD);
  const scryptOnce = () =>
    new Promise<Buffer>((resolve, reject) =>
      scrypt(PASSWORD, "0123456789abcdef", 64, { N: 16_384, r: 8, p: 1 }, (error, key) =>
        error ? reject(error) : resolve(key),
      ),
    );
  return {
    "argon2id hash (m=19456, t=2, p=1)": await msPer(RUNS, () => hasher.hash(PASSWORD)),
    "argon2id verify": await msPer(RUNS, () => hasher.verify(PASSWORD, hash)),
    "scrypt verify (N=2^14, r=8, p=1: the old hashes)": await msPer(RUNS, scryptOnce),
  };
}

// Child: the server. Prints its URL, samples its RSS, and on a line from the parent prints the peak.
async function serveAndSample(databaseUrl: string, concurrency: string, queue: string) {
  const env = parseEnv({
    NODE_ENV: "test",
    PORT: "0",
    HOST: "127.0.0.1",
    DATABASE_URL: databaseUrl,
    AUTH_RATE_LIMIT_PER_MINUTE: "1000000",
    AUTH_FAILED_LOGINS_PER_ADDRESS: "1000000",
    AUTH_FAILED_LOGINS_PER_EMAIL: "1000000",
    PASSWORD_HASH_CONCURRENCY: concurrency,
    PASSWORD_HASH_QUEUE: queue,
  });
  const server = await startServer(env, { log: () => {} });
  const before = process.memoryUsage().rss;
  let peak = before;
  setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 2).unref();
  console.log(`READY ${server.url}`);
  for await (const _ of createInterface({ input: process.stdin })) break;
  const mb = (bytes: number) => Math.round(bytes / 1_048_576);
  console.log(`RSS ${JSON.stringify({ beforeMb: mb(before), peakMb: mb(peak) })}`);
  await server.close();
  process.exit(0);
}

async function scenario(databaseUrl: string, concurrency: string, queue: string) {
  const child = spawn(process.execPath, [import.meta.filename, "--child", databaseUrl, concurrency, queue], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (prefix: string) => {
    for (let line = await lines.next(); !line.done; line = await lines.next()) {
      if (line.value.startsWith(prefix)) return line.value.slice(prefix.length);
    }
    throw new Error(`the server exited before printing ${prefix}`);
  };
  const url = await next("READY ");
  const started = performance.now();
  const statuses = await Promise.all(
    Array.from({ length: CONCURRENT }, async () => {
      const response = await fetch(`${url}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
      });
      await response.arrayBuffer();
      return response.status;
    }),
  );
  const elapsedMs = Math.round(performance.now() - started);
  child.stdin.end("report\n");
  const rss = JSON.parse(await next("RSS ")) as { beforeMb: number; peakMb: number };
  const count = (status: number) => statuses.filter((s) => s === status).length;
  return { ok: count(200), refused: count(429), other: CONCURRENT - count(200) - count(429), elapsedMs, ...rss };
}

if (args[0] === "--child") {
  await serveAndSample(args[1] ?? "", args[2] ?? "2", args[3] ?? "64");
} else {
  console.log(`login cost: ${RUNS} runs each, ${process.arch}, ${navigator.hardwareConcurrency} cores`);
  for (const [what, ms] of Object.entries(await hashCosts())) console.log(`  ${what}: ${ms.toFixed(1)} ms`);
  const name = `login_cost_${Date.now()}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  try {
    const databaseUrl = withDatabase(ADMIN_URL, name);
    // The account every log-in uses, made by a first server (which also migrates the database).
    const setup = await startServer(parseEnv({ NODE_ENV: "test", PORT: "0", DATABASE_URL: databaseUrl }), {
      log: () => {},
    });
    await setup.services.auth.signUp({ email: EMAIL, password: PASSWORD });
    await setup.close();
    console.log(`${CONCURRENT} log-ins at once (one account, the right password), server RSS:`);
    const limits: [string, string, string][] = [
      ["default limits (2 hashing, 64 waiting)", "2", "64"],
      ["limits lifted (64 hashing, 10,000 waiting)", "64", "10000"],
    ];
    for (const [label, concurrency, queue] of limits) {
      const r = await scenario(databaseUrl, concurrency, queue);
      console.log(
        `  ${label}: ${r.ok} × 200, ${r.refused} × 429, ${r.other} other in ${r.elapsedMs} ms; ` +
          `RSS ${r.beforeMb} MB idle, peak ${r.peakMb} MB`,
      );
    }
  } finally {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}
