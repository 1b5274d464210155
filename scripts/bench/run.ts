import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { createApiKeyService, createAuthService } from "@credits/core";
import { createAccountStore, createApiKeyStore, createDatabase, createSessionStore, seedDefaults } from "@credits/db";
import { serveStripeApiMock } from "@credits/stripe/testing";
import type { Request } from "autocannon";
import postgres from "postgres";
import { checkOnly, flag, only, onlySome, option } from "./args.ts";
import { type Figures, printFigures } from "./figures.ts";
import { loadRunner, type Scenario } from "./load.ts";
import { seedManyGrantUsers } from "./many-grants.ts";
import { runPgbench } from "./pgbench.ts";
import { PRODUCTION_FLAGS, startChild } from "./processes.ts";
import { apiReads, bareReads, READ_CONNECTIONS } from "./reads.ts";
import { writeReport } from "./report.ts";
import { SPENDS, scenarioNames, WEBHOOK_CONNECTIONS_DEFAULT } from "./scenarios.ts";
import { BENCH_USER_ID_SQL, benchUserId } from "./spend-sql.ts";
import { webhookRequests } from "./webhook-requests.ts";

const root = new URL("../../", import.meta.url).pathname;
// The scale bench (issue 17) is its own run: reads over a growing ledger, not load.
if (flag("scale")) {
  await import("./scale/run.ts");
  process.exit(0);
}
const quick = flag("quick");
// --reads / --spend: only the read or only the spend scenarios (API and bare), to compare a change
// to one path in minutes.
const readsOnly = flag("reads");
const spendOnly = flag("spend");
const DURATION = option("duration", quick ? 3 : 15);
const WARMUP = option("warmup", quick ? 1 : 3);
const ROUNDS = option("rounds", 4);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1)
  throw new Error(`--rounds: a whole number of rounds, 1 or more, not ${ROUNDS}`);
const USERS = option("users", quick ? 1_000 : 10_000);
const POOL = option("pool", 10);
const WEBHOOK_CONNECTIONS = option("webhook-connections", WEBHOOK_CONNECTIONS_DEFAULT);
const NAME = readsOnly ? "reads" : spendOnly ? "spend" : onlySome ? "only" : quick ? "quick" : "latest";
const ADMIN_URL = process.env.BENCH_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const START_BALANCE = 1_000_000;
// The hot user (user 1) takes every spend of two scenarios and pgbench's hot row, in every round:
// about 180,000 credits a round in a quick run (review 15), 4 × that in a full one. A hundred times
// the others' balance, so no round of a full run ends in refusals (a ledger row holds up to 10^9).
const HOT_BALANCE = 100 * START_BALANCE;
const WEBHOOK_SECRET = "whsec_bench";

const spends = readsOnly ? [] : SPENDS;
checkOnly(scenarioNames(WEBHOOK_CONNECTIONS));

const dbName = `bench_${Date.now()}`;
const dbUrl = ADMIN_URL.replace(/\/[^/]*$/, `/${dbName}`);
const { hostname: pgHost, port: pgPort, username: pgUser } = new URL(ADMIN_URL);

const log = (line: string) => process.stdout.write(`${line}\n`);

// ---------------------------------------------------------------- database

log(`bench: ${quick ? "quick" : "full"} run, ${DURATION}s per scenario (+${WARMUP}s warm-up), ${USERS} users`);
const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
await admin.unsafe(`CREATE DATABASE ${dbName}`);
log(`database ${dbName} created`);
const pgVersion = (await admin`SHOW server_version`)[0]?.server_version as string;

const handle = createDatabase({ url: dbUrl, poolMax: 4 });
await handle.migrate();
await seedDefaults(handle.db);
const pg = postgres(dbUrl, { max: 4, onnotice: () => {} });

// Users, each with one grant of its whole balance, posted through the ledger's one posting statement.
await pg.unsafe(`
  INSERT INTO users (id, email)
  SELECT ${BENCH_USER_ID_SQL("g")}, 'bench' || g || '@example.com' FROM generate_series(1, ${USERS}) AS g`);
await pg.unsafe(`
  SELECT count(*) FROM post_ledger((
    SELECT jsonb_agg(jsonb_build_object('ord', g, 'user_id', ${BENCH_USER_ID_SQL("g")}, 'amount', CASE WHEN g = 1 THEN ${HOT_BALANCE} ELSE ${START_BALANCE} END,
                                        'kind', 'grant', 'idempotency_key', 'bench:seed:' || g, 'reason', 'bench seed'))
      FROM generate_series(1, ${USERS}) AS g))`);
const GRANT_USERS = quick ? 200 : 1_000;
await seedManyGrantUsers(pg, USERS + 1, GRANT_USERS, START_BALANCE);
await pg.unsafe("ANALYZE");
log(`${USERS} users seeded with ${START_BALANCE} credits each (the hot user ${HOT_BALANCE})`);

const auth = createAuthService({ accounts: createAccountStore(handle.db), sessions: createSessionStore(handle.db) });
// A key answers to the admin who made it.
const benchAdmin = await auth.createUser({
  email: "bench-admin@example.com",
  password: "bench-password-1234",
  role: "admin",
});
const apiKeys = createApiKeyService({ store: createApiKeyStore(handle.db) });
const { key: apiKey } = await apiKeys.create({
  name: "bench",
  scopes: ["credits:spend", "credits:read"],
  ownerUserId: benchAdmin.id,
});
const { token: sessionToken, user: sessionUser } = await auth.signUp({
  email: "bench-reader@example.com",
  password: "bench-password-1234",
});
// The reader has a history to page through, like a real user's.
await pg.unsafe(
  `SELECT count(*) FROM post_ledger((
     SELECT jsonb_agg(jsonb_build_object('ord', g, 'user_id', $1::uuid, 'amount', 10, 'kind', 'grant',
                                         'idempotency_key', 'bench:reader:' || g))
       FROM generate_series(1, 50) AS g))`,
  [sessionUser.id],
);

// Webhooks: one open payment per delivery, each credited once by its checkout.session.completed.
const WEBHOOK_PAYMENTS = quick ? 5_000 : 40_000;
const [starter] = await pg`
  SELECT p.id, p.credits, price.unit_amount AS price_minor, price.currency
    FROM credit_packages p JOIN credit_package_prices price ON price.package_id = p.id AND price.sort_order = 0
   WHERE p.slug = 'starter'`;
if (!starter) throw new Error("no starter package");
const paymentIds = (
  await pg.unsafe(
    `INSERT INTO payments (user_id, package_id, credits, amount_minor, currency, provider, status)
     SELECT ${BENCH_USER_ID_SQL(`1 + (g % ${USERS})`)}, $1::uuid, $2::bigint, $3::bigint, $4, 'stripe', 'pending'
       FROM generate_series(1, ${WEBHOOK_PAYMENTS}) AS g
     RETURNING id`,
    [starter.id, starter.credits, starter.price_minor, starter.currency],
  )
).map((row) => row.id as string);
log(`${paymentIds.length} payments created for webhook deliveries`);

// ---------------------------------------------------------------- load

let sequence = 0;
const runId = randomUUID().slice(0, 8);

// Which users a spend scenario draws from: user 1 only, every plain user, or the users with 20 grants.
type Users = "hot" | "all" | "grants";
const spendRequest =
  (path: string, headers: Record<string, string>, users: Users) =>
  (req: Request): Request => {
    sequence += 1;
    const user =
      users === "hot"
        ? 1
        : users === "grants"
          ? USERS + 1 + Math.floor(Math.random() * GRANT_USERS)
          : 1 + Math.floor(Math.random() * USERS);
    return {
      ...req,
      method: "POST",
      path,
      headers,
      body: JSON.stringify({ userId: benchUserId(user), amount: 1, idempotencyKey: `b-${runId}-${sequence}` }),
    };
  };

const webhookRequest = webhookRequests({
  paymentIds,
  runId,
  amountMinor: Number(starter.price_minor),
  currency: starter.currency,
  secret: WEBHOOK_SECRET,
});

const { runLoad, runPhase } = loadRunner({ pg, dbName, duration: DURATION, warmup: WARMUP, rounds: ROUNDS, log });

function pgbenchFigures(scenario: string, connections: number, hot: boolean): Figures {
  const figures = runPgbench(scenario, connections, hot, {
    users: USERS,
    warmup: WARMUP,
    duration: DURATION,
    host: pgHost,
    port: pgPort,
    user: pgUser,
    database: dbName,
  });
  printFigures(figures, log);
  return figures;
}

// ---------------------------------------------------------------- run

const results: Figures[] = [];
const common = { DATABASE_URL: dbUrl, DATABASE_POOL_MAX: String(POOL) };
// No scenario calls Stripe; should one start to, it meets the tests' Stripe mock, not the network.
const stripeApi = await serveStripeApiMock();

const startApi = () =>
  startChild("scripts/bench/server-entry.ts", {
    ...common,
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    RECONCILE_ENABLED: "false",
    HOST: "127.0.0.1",
    PORT: "0",
    PUBLIC_URL: "http://127.0.0.1:3000",
    STRIPE_SECRET_KEY: "sk_test_bench",
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_API_BASE: stripeApi.base,
  });
const bearer = { "content-type": "application/json", authorization: `Bearer ${apiKey}` };
const spendPath = "/api/v1/credits/spend";
const cookie = { cookie: `__Host-session=${sessionToken}` };
const apiReadList = spendOnly ? [] : apiReads(sessionUser.id, { authorization: `Bearer ${apiKey}` }, cookie);
const withConnections = (r: Omit<Scenario, "connections">) => ({ ...r, connections: READ_CONNECTIONS });
const runWebhooks = !readsOnly && !spendOnly && only("webhook", WEBHOOK_CONNECTIONS);
const startBare = () => startChild("scripts/bench/bare-server.ts", common);
log(
  `\nAPI server (startServer, NODE_ENV=production, LOG_LEVEL=warn, ${PRODUCTION_FLAGS.join(" ")}) and bare node:http + postgres.js (same statements, same pool size), side by side, ${ROUNDS} round(s)`,
);
const spendLoads = (path: string, headers: Record<string, string>, without: string[] = []) =>
  spends
    .filter(([name, c]) => !without.includes(name) && only(name, c))
    .map(([scenario, connections, users]) => ({
      scenario,
      connections,
      setupRequest: spendRequest(path, headers, users),
    }));
log("spends");
const spendPhase = await runPhase([
  { target: "api", start: startApi, loads: spendLoads(spendPath, bearer) },
  {
    target: "bare",
    start: startBare,
    loads: spendLoads("/spend", { "content-type": "application/json" }, ["spend 20 grants"]),
  },
]);
log("reads");
const readPhase = await runPhase(
  [
    {
      target: "api",
      start: startApi,
      loads: apiReadList.filter((r) => only(r.scenario, READ_CONNECTIONS)).map(withConnections),
    },
    {
      target: "bare",
      start: startBare,
      loads: (spendOnly ? [] : bareReads(sessionUser.id))
        .filter((r) => only(r.scenario, READ_CONNECTIONS))
        .map(withConnections),
    },
  ],
  // The webhooks after the reads: a credited payment leaves work behind it (outbox deliveries,
  // mail), which would otherwise be counted against the next scenario's CPU and throughput.
  runWebhooks
    ? (url, pid) => {
        const load = { scenario: "webhook", connections: WEBHOOK_CONNECTIONS, setupRequest: webhookRequest };
        return runLoad({ ...load, target: "api", url, pid }, true);
      }
    : undefined,
);
results.push(...spendPhase.results, ...readPhase.results);
const apiPeakRssMb = Math.max(spendPhase.apiPeakRssMb, readPhase.apiPeakRssMb);

if (!readsOnly && !spendOnly && only("pgbench", 0)) {
  log("\npgbench (same statement, -M prepared, -j 2)");
  results.push(pgbenchFigures("spend", 4, false));
  results.push(pgbenchFigures("spend", 64, false));
  results.push(pgbenchFigures("spend hot user", 64, true));
}

// The ledger invariant held under all that load.
const [invariant] = await pg`
  SELECT count(*)::int AS broken FROM users u
   WHERE u.credits_balance <> coalesce((SELECT sum(amount) FROM credit_transactions t WHERE t.user_id = u.id), 0)`;
const broken = Number(invariant?.broken ?? -1);
const credited = Number((await pg`SELECT count(*)::int AS n FROM payments WHERE credited_at IS NOT NULL`)[0]?.n ?? 0);

await pg.end();
await handle.close();
await stripeApi.close();
if (!flag("keep-db")) await admin.unsafe(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
await admin.end();

// ---------------------------------------------------------------- report

writeReport(
  {
    results,
    apiPeakRssMb,
    broken,
    credited,
    pgVersion,
    settings: {
      quick,
      duration: DURATION,
      warmup: WARMUP,
      users: USERS,
      pool: POOL,
      webhookConnections: WEBHOOK_CONNECTIONS,
      rounds: ROUNDS,
      name: NAME,
      productionFlags: PRODUCTION_FLAGS,
    },
  },
  join(root, "bench/results"),
  log,
);
// A ledger out of balance after the load is a bug, not a figure: the run fails (CI runs it).
if (broken !== 0) {
  log(`the ledger invariant does not hold for ${broken} users after the run`);
  process.exitCode = 1;
}
