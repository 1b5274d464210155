import { existsSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { createAuthService, createCreditService, systemClock, type TouchedUsers } from "@credits/core";
import { createAccountStore, createDatabase, createLedgerStore, createSessionStore, seedDefaults } from "@credits/db";
import postgres from "postgres";
import { PRODUCTION_FLAGS, startChild, stopChild } from "../processes.ts";
import {
  appendSpends,
  benchUsers,
  createBenchUsers,
  growAdminTables,
  growLedger,
  oneUser,
  openGrants,
  withoutAnnouncements,
} from "./load.ts";
import { httpReads, type Read, type ReadFigures, timeRead } from "./reads.ts";
import { type SizeFigures, writeScaleReport } from "./report.ts";

// `pnpm bench --scale [--quick]`: one database grown from the smaller ledger size to the larger,
// every read timed at each size (issue 17). Options: --small, --large (ledger rows), --users,
// --heavy (the heavy user's rows, the same at both sizes), --samples, --batch-samples, --keep-db.
const root = new URL("../../../", import.meta.url).pathname;
const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const inline = args.find((a) => a.startsWith(`--${name}=`));
  const index = args.indexOf(`--${name}`);
  const raw = inline ? inline.split("=")[1] : index >= 0 ? args[index + 1] : undefined;
  return raw === undefined ? fallback : Number(raw);
};
const quick = args.includes("--quick");
const SMALL = option("small", quick ? 20_000 : 500_000);
const LARGE = option("large", quick ? 200_000 : 5_000_000);
const USERS = option("users", quick ? 5_000 : 100_000);
const HEAVY = option("heavy", quick ? 2_000 : 200_000);
// A p99 of 20 or 50 samples is their slowest: one pause of the machine's neighbours decided it (the
// /admin dashboard's 53 ms in a gate where its median was 12.6). 100 and 200 samples of a read of a
// few milliseconds take seconds. The export and the ledger passes take up to seconds each.
const SAMPLES = option("samples", quick ? 100 : 200);
const BATCH_SAMPLES = option("batch-samples", quick ? 4 : 10);
const ADMIN_URL = process.env.BENCH_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const log = (line: string) => process.stdout.write(`${line}\n`);
if (!(USERS < SMALL && HEAVY + USERS < SMALL && SMALL < LARGE)) throw new Error("need users + heavy < small < large");

const dbName = `bench_scale_${Date.now()}`;
const dbUrl = ADMIN_URL.replace(/\/[^/]*$/, `/${dbName}`);
log(
  `scale bench: ${SMALL} and ${LARGE} ledger rows over ${USERS} users, heavy user ${HEAVY} rows, ${SAMPLES} samples (${BATCH_SAMPLES} of the batch reads)`,
);
const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
await admin.unsafe(`CREATE DATABASE ${dbName}`);
const handle = createDatabase({ url: dbUrl, poolMax: 2 });
await handle.migrate();
await seedDefaults(handle.db);
const pg = postgres(dbUrl, { max: 1, onnotice: () => {} });

const auth = createAuthService({ accounts: createAccountStore(handle.db), sessions: createSessionStore(handle.db) });
const password = "scale-password-1234";
const adminUser = await auth.createUser({ email: "scale-admin@example.com", password, role: "admin" });
const { token: adminToken } = await auth.logIn({ email: "scale-admin@example.com", password });
const { token: heavyToken, user: heavy } = await auth.signUp({ email: "scale-heavy@example.com", password });
const credits = createCreditService({ store: createLedgerStore(handle.db), clock: systemClock });

const ledgerRows = async () => Number((await pg`SELECT count(*)::bigint AS n FROM credit_transactions`)[0]?.n);
async function timed(label: string, work: () => Promise<unknown>) {
  const started = performance.now();
  await work();
  log(`  ${label}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

await timed("users, opening grants, heavy user", () =>
  withoutAnnouncements(pg, async () => {
    await createBenchUsers(pg, USERS);
    await openGrants(pg, benchUsers(1, USERS));
    await openGrants(pg, oneUser(heavy.id));
    await appendSpends(pg, oneUser(heavy.id), HEAVY - 1, "heavy");
  }),
);

// The server with the web app when it is built (the /admin dashboard), else the API alone.
const web = existsSync(join(root, "apps/web/build/server"));
const server = await startChild(
  web ? "apps/server/src/main.ts" : "scripts/bench/server-entry.ts",
  {
    DATABASE_URL: dbUrl,
    DATABASE_POOL_MAX: "4",
    NODE_ENV: "production",
    LOG_LEVEL: web ? "info" : "warn",
    RECONCILE_ENABLED: "false",
    HOST: "127.0.0.1",
    PORT: "0",
    PUBLIC_URL: "http://127.0.0.1:3000",
    ALLOW_LOCAL_PAYMENTS: "true",
    // The heavy user's export is timed 20 times at each size: past the per-user hourly limit.
    GDPR_EXPORT_RATE_LIMIT_PER_HOUR: "1000",
  },
  /(?:listening on |READY )(http:\/\/[\d.:]+)/,
);
log(`server ${server.url} (${PRODUCTION_FLAGS.join(" ")}${web ? ", with the web app" : ", API only: no /admin"})`);
const reads: Read[] = [
  ...httpReads(
    server.url,
    { user: `__Host-session=${heavyToken}`, admin: `__Host-session=${adminToken}` },
    { web, searchFor: `scale${Math.floor(USERS / 2)}@`, serverPid: server.child.pid },
  ),
  {
    read: "reconciliation: ledger, daily pass",
    userFacing: false,
    run: async () => {
      await checkedClean(day);
      return 0;
    },
  },
  {
    read: "reconciliation: ledger, full pass",
    userFacing: false,
    growsBecause: "the weekly (or --full) pass reads the whole ledger by design (ADR 012)",
    run: async () => {
      await checkedClean(undefined);
      return 0;
    },
  },
];

// A day's activity, the same at both sizes: one spend for each of DAY_USERS users, posted after
// the watermark the daily pass starts from (as if the previous run had stopped there).
const DAY_USERS = Math.min(1_000, USERS - 1);
let day: TouchedUsers = { afterSeq: 0, upToSeq: 0 };
async function checkedClean(touched: TouchedUsers | undefined) {
  const { usersChecked, violations } = await credits.checkInvariants(100, touched);
  if (violations.length > 0) throw new Error(`the bench ledger breaks its invariants: ${violations[0]?.userId}`);
  if (touched && usersChecked !== DAY_USERS) throw new Error(`the daily pass checked ${usersChecked} users`);
}

// Each read's pages read from outside shared buffers and pages touched: the database's counters
// once every backend has reported (PostgreSQL 15+ sends an idle backend's pending statistics up to
// 10 s late).
const STATS_SETTLE_MS = 10_500;
async function settledPages() {
  await new Promise((resolve) => setTimeout(resolve, STATS_SETTLE_MS));
  const [row] = await pg`SELECT blks_read, blks_hit FROM pg_stat_database WHERE datname = current_database()`;
  const read = Number(row?.blks_read ?? 0);
  return { read, touched: read + Number(row?.blks_hit ?? 0), at: performance.now() };
}
// The server's background work (its job queue and pollers) touches pages all along, about as many
// per second at both sizes: measured over one window without reads, and taken off each read's
// pages touched for the time its window lasted, so that a read of a few pages per call is not
// mostly the background's.
async function backgroundPagesPerMs(from: Awaited<ReturnType<typeof settledPages>>) {
  const to = await settledPages();
  return { rate: (to.touched - from.touched) / (to.at - from.at), pages: to };
}
// A read's first calls in the server compile its code path: the smaller size, timed first, paid
// for it in its medians (every HTTP read 8-88 % slower there than at the larger size in a quiet
// run). The batch reads take seconds at the full sizes and are warm after one call.
const warmupsOf = (read: Read) => (read.userFacing ? 10 : 2);
const ledgerBytes = async () =>
  Number((await pg`SELECT pg_total_relation_size('credit_transactions') AS n`)[0]?.n ?? 0);

// Building the ledger keeps the cores busy and the 1-minute load average trails it: wait (at
// most 90 s) for it to fall under half the cores, so no read is timed against the build's tail.
async function quietDown() {
  const until = Date.now() + 90_000;
  while ((loadavg()[0] ?? 0) > cpus().length / 2 && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 5_000));
  }
}

const sizes: SizeFigures[] = [];
let grown = 0;
for (const target of [SMALL, LARGE]) {
  const missing = target - (await ledgerRows());
  await timed(`ledger to ${target} rows`, () =>
    withoutAnnouncements(pg, () => growLedger(pg, USERS, missing, `g${target}`, log)),
  );
  await timed("audit, approvals, payments", () =>
    growAdminTables(pg, adminUser.id, {
      users: USERS,
      rows: target - grown,
      pending: grown === 0 ? 20 : 0,
      batch: `a${target}`,
    }),
  );
  grown = target;
  // What autovacuum keeps in a real database (migration 0041: the ledger all-visible up to its
  // last ~10,000 rows, so the daily pass's anchors are index-only): the CI's PostgreSQL runs
  // without autovacuum, so the bench vacuums, before the day's rows.
  await timed("VACUUM", () => pg`VACUUM`);
  const { seq: afterSeq } = await credits.ledgerWatermark();
  await appendSpends(pg, benchUsers(2, DAY_USERS + 1), 1, `day${target}`);
  day = { afterSeq, upToSeq: (await credits.ledgerWatermark()).seq };
  await timed("ANALYZE", () => pg`ANALYZE`);
  const rows = await ledgerRows();
  await quietDown();
  const loadBefore = loadavg()[0] ?? 0;
  log(`\n${rows} ledger rows (load average ${loadBefore.toFixed(2)} before the reads):`);
  const figures: ReadFigures[] = [];
  const background = await backgroundPagesPerMs(await settledPages());
  let pages = background.pages;
  log(`  the server's background work: ${(background.rate * 1000).toFixed(0)} pages touched per second without reads`);
  for (const read of reads) {
    const samples = read.userFacing ? SAMPLES : BATCH_SAMPLES;
    const result = await timeRead(read, samples, warmupsOf(read));
    const pagesAfter = await settledPages();
    const calls = samples + warmupsOf(read);
    const blocksRead = (pagesAfter.read - pages.read) / calls;
    const own = pagesAfter.touched - pages.touched - background.rate * (pagesAfter.at - pages.at);
    const pagesTouched = Math.max(0, own) / calls;
    pages = pagesAfter;
    const memory =
      result.rssGrowthBytes === undefined
        ? ""
        : `  ${(result.bytes / 1e6).toFixed(1)} MB sent, server RSS +${(result.rssGrowthBytes / 1e6).toFixed(1)} MB`;
    log(
      `  ${read.read.padEnd(36)} p50 ${result.p50.toFixed(1).padStart(8)} ms  p99 ${result.p99.toFixed(1).padStart(8)} ms  ${blocksRead.toFixed(0).padStart(6)} blocks read  ${pagesTouched.toFixed(0).padStart(7)} pages touched${memory}`,
    );
    figures.push({ ...result, blocksRead, pagesTouched });
  }
  const loadAfter = loadavg()[0] ?? 0;
  log(`  load average ${loadAfter.toFixed(2)} after the reads (${cpus().length} cores)`);
  sizes.push({
    ledgerRows: rows,
    ledgerBytes: await ledgerBytes(),
    load: { before: loadBefore, after: loadAfter },
    figures,
  });
}

const sharedBuffers = String((await pg`SHOW shared_buffers`)[0]?.shared_buffers ?? "?");
await stopChild(server.child);
await pg.end();
await handle.close();
if (!args.includes("--keep-db")) await admin.unsafe(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
await admin.end();

writeScaleReport(
  { quick, users: USERS, heavyRows: HEAVY, samples: SAMPLES, batchSamples: BATCH_SAMPLES, sharedBuffers, sizes, reads },
  join(root, "bench/results"),
  log,
);
