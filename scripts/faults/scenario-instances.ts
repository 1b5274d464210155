// 1. Several processes: three server instances on one PostgreSQL, clients spread across them
// buying (each webhook delivered twice, to two different instances), spending, holding and
// adjusting; each instance starts with the daily reconciliation already due. With `pgbouncer`,
// the three reach PostgreSQL through one PgBouncer in transaction mode (prepared statements off,
// LISTEN on the direct URL).
import { randomUUID } from "node:crypto";
import { type RunningPgBouncer, startPgBouncer } from "@credits/db/testing/pgbouncer";
import { type ServedStripeApi, serveStripeApiMock } from "@credits/stripe/testing";
import {
  apiKey,
  Checks,
  checkout,
  deliver,
  dropDatabase,
  freshDatabase,
  http,
  ledgerChecks,
  ledgerFigures,
  login,
  ok,
  PG,
  packageIds,
  pick,
  prepareDatabase,
  purchaseRowsPer,
  rand,
  type ServerProcess,
  type Sql,
  serverProcess,
  signUp,
  sleep,
  sqlClient,
} from "./lib.ts";

type Counts = ReturnType<typeof newCounts>;

// What every client works with: the three servers, the admin's cookie and API key, the packs,
// and what the clients have seen so far.
interface Traffic {
  urls: string[];
  stripe: ServedStripeApi;
  adminCookie: string;
  key: string;
  packs: string[];
  counts: Counts;
  statuses: Map<string, number>;
  paymentIds: string[];
}

type User = { id: string; cookie: string };

export async function severalInstances(quick: boolean, { pgbouncer = false } = {}): Promise<Checks> {
  const checks = new Checks(pgbouncer ? "several instances through PgBouncer" : "several instances");
  const clients = quick ? 8 : 64;
  const seconds = quick ? 8 : 60;
  const stripe = await serveStripeApiMock();
  const db = await freshDatabase("instances");
  const sql = sqlClient(db.url);
  const servers: ServerProcess[] = [];
  let bouncer: RunningPgBouncer | null = null;
  try {
    const { adminEmail } = await prepareDatabase(db.url);
    const { schedule, today } = reconciliationAlreadyDue();
    // A pool of 6 server connections for three servers of 10 each: transactions share them.
    bouncer = pgbouncer ? await startPgBouncer(PG, { poolSize: 6 }) : null;
    const pooled: Record<string, string> = bouncer ? { DATABASE_PREPARE: "false" } : {};
    console.log(
      `  injected: 3 server processes${bouncer ? ` through PgBouncer (transaction mode, port ${bouncer.port})` : ""}, RECONCILE_SCHEDULE=${schedule} (already due), ${clients} clients for ${seconds} s`,
    );
    const serverUrl = bouncer ? `${bouncer.url}/${db.name}` : db.url;
    servers.push(
      ...(await Promise.all(
        [0, 1, 2].map(() =>
          serverProcess(serverUrl, stripe, { RECONCILE_ENABLED: "true", RECONCILE_SCHEDULE: schedule, ...pooled }),
        ),
      )),
    );
    const traffic = await arrange(
      servers.map((s) => s.url),
      adminEmail,
      stripe,
    );
    const deadline = Date.now() + seconds * 1000;
    await Promise.all(Array.from({ length: clients }, (_, i) => client(traffic, i, deadline)));
    await verify(checks, sql, traffic, today);
    if (bouncer) {
      const stats = await bouncer.stats(db.name);
      checks.check(
        stats.poolMode === "transaction" && stats.transactions > traffic.counts.spends,
        "the traffic went through PgBouncer in transaction mode",
        `${stats.transactions} transactions, pool mode ${stats.poolMode}`,
      );
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await bouncer?.stop();
    await sql.end({ timeout: 2 });
    await dropDatabase(db.name);
    await stripe.close();
  }
  return checks;
}

// A daily reconciliation time already passed today (a minute ago, or midnight), so each instance
// starts with its run due.
function reconciliationAlreadyDue(): { schedule: string; today: string } {
  const now = new Date();
  const due = new Date(
    Math.max(now.getTime() - 60_000, Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())),
  );
  const schedule = `${String(due.getUTCHours()).padStart(2, "0")}:${String(due.getUTCMinutes()).padStart(2, "0")}`;
  return { schedule, today: now.toISOString().slice(0, 10) };
}

function newCounts() {
  return {
    purchases: 0,
    deliveries: 0,
    deliveries2xx: 0,
    spends: 0,
    spends402: 0,
    holds: 0,
    captures: 0,
    releases: 0,
    adjustments: 0,
    errors5xx: 0,
  };
}

async function arrange(urls: string[], adminEmail: string, stripe: ServedStripeApi): Promise<Traffic> {
  const adminCookie = await login(urls[0] ?? "", adminEmail);
  const key = await apiKey(urls[0] ?? "", adminCookie);
  const packs = await packageIds(urls[0] ?? "");
  return { urls, stripe, adminCookie, key, packs, counts: newCounts(), statuses: new Map(), paymentIds: [] };
}

function note(traffic: Traffic, what: string, status: number) {
  const k = `${what} ${status}`;
  traffic.statuses.set(k, (traffic.statuses.get(k) ?? 0) + 1);
  if (status >= 500 || status === 0) traffic.counts.errors5xx++;
}

// A user signed up on its home instance, then until the deadline, each time on a random instance:
// buys (30%), spends (35%), holds (25%) or is adjusted by the admin (10%).
async function client(traffic: Traffic, index: number, deadline: number): Promise<void> {
  const { urls } = traffic;
  const home = urls[index % urls.length] ?? "";
  const user = await signUp(home);
  while (Date.now() < deadline) {
    const base = pick(urls);
    const roll = Math.random();
    if (roll < 0.3) await buy(traffic, base, user);
    else if (roll < 0.65) await spend(traffic, base, user);
    else if (roll < 0.9) await holdThenSettle(traffic, base, user);
    else await adjust(traffic, base, user);
  }
}

// A checkout whose event is delivered twice, to two different instances, at the same time.
async function buy(traffic: Traffic, base: string, user: User): Promise<void> {
  const { urls, counts } = traffic;
  const started = await checkout(base, user.cookie, pick(traffic.packs), traffic.stripe);
  note(traffic, "checkout", started.reply.status);
  if (!started.event || !started.paymentId) return;
  counts.purchases++;
  traffic.paymentIds.push(started.paymentId);
  const first = rand(0, 2);
  const second = (first + rand(1, 2)) % 3;
  const replies = await Promise.all([
    deliver(urls[first] ?? "", started.event),
    deliver(urls[second] ?? "", started.event),
  ]);
  for (const reply of replies) {
    counts.deliveries++;
    if (ok(reply)) counts.deliveries2xx++;
    note(traffic, "webhook", reply.status);
  }
}

async function spend(traffic: Traffic, base: string, user: User): Promise<void> {
  const reply = await http(base, "POST", "/api/v1/credits/spend", {
    key: traffic.key,
    body: { userId: user.id, amount: rand(1, 5), idempotencyKey: randomUUID(), reason: "faults" },
  });
  note(traffic, "spend", reply.status);
  if (ok(reply)) traffic.counts.spends++;
  if (reply.status === 402) traffic.counts.spends402++;
}

// A hold, then captured or released on another random instance.
async function holdThenSettle(traffic: Traffic, base: string, user: User): Promise<void> {
  const { key, counts } = traffic;
  const held = await http(base, "POST", "/api/v1/credits/holds", {
    key,
    body: { userId: user.id, amount: rand(2, 6), idempotencyKey: randomUUID(), ttlSeconds: 60 },
  });
  note(traffic, "hold", held.status);
  if (!ok(held)) return;
  counts.holds++;
  const other = pick(traffic.urls);
  if (Math.random() < 0.5) {
    const reply = await http(other, "POST", `/api/v1/credits/holds/${held.body.holdId}/capture`, {
      key,
      body: { amount: 1 },
    });
    note(traffic, "capture", reply.status);
    if (ok(reply)) counts.captures++;
  } else {
    const reply = await http(other, "POST", `/api/v1/credits/holds/${held.body.holdId}/release`, { key });
    note(traffic, "release", reply.status);
    if (ok(reply)) counts.releases++;
  }
}

async function adjust(traffic: Traffic, base: string, user: User): Promise<void> {
  const reply = await http(base, "POST", "/api/v1/admin/adjust", {
    cookie: traffic.adminCookie,
    body: {
      userId: user.id,
      amount: rand(1, 20),
      reason: "fault test adjustment",
      idempotencyKey: randomUUID(),
    },
  });
  note(traffic, "adjust", reply.status);
  if (ok(reply)) traffic.counts.adjustments++;
}

// Waits for the reconciliation each instance started, then checks the ledger and the runs.
async function verify(checks: Checks, sql: Sql, { counts, statuses, paymentIds }: Traffic, today: string) {
  let runs: { status: string; trigger: string }[] = [];
  for (let i = 0; i < 100; i++) {
    runs = await sql`SELECT status, trigger FROM reconciliation_runs WHERE scheduled_for = ${today}`;
    if (runs.length > 0 && runs.every((r) => r.status !== "running")) break;
    await sleep(200);
  }
  const allRuns = await sql`SELECT count(*)::int AS n FROM reconciliation_runs`;
  const per = await purchaseRowsPer(sql, paymentIds);
  const creditedOnce = [...per.values()].filter((n) => n === 1).length;
  const figures = await ledgerFigures(sql);
  console.log(`  found: ${JSON.stringify(counts)}`);
  console.log(
    `  statuses: ${[...statuses]
      .sort()
      .map(([k, n]) => `${k}×${n}`)
      .join(", ")}`,
  );
  console.log(`  ledger: ${JSON.stringify(figures)}`);
  console.log(
    `  reconciliation_runs for ${today}: ${runs.length} (${runs.map((r) => `${r.trigger}/${r.status}`).join(", ")}), all runs: ${allRuns[0]?.n}`,
  );
  checks.check(
    counts.purchases > 0 && creditedOnce === paymentIds.length,
    "every purchase credited exactly once",
    `${creditedOnce} of ${paymentIds.length} payments have exactly 1 purchase row`,
  );
  ledgerChecks(checks, figures);
  checks.check(counts.errors5xx === 0, "no 5xx or dropped connection under load", `${counts.errors5xx}`);
  checks.check(
    runs.length === 1 && runs[0]?.status === "succeeded",
    "scheduled reconciliation ran exactly once",
    `${runs.length} run(s) for ${today}`,
  );
}
