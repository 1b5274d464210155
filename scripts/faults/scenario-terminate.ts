// 5. The webhook transaction's backend terminated. Targeted: hold the payment row's lock, deliver
// the webhook (its transaction waits on the lock), terminate the waiting backend: the delivery
// must answer 5xx and the redelivery credit once. Then a loop: terminate every non-idle backend
// of the database every 30-120 ms while deliveries run; each is redelivered until it gets a 2xx.

import { type ServedStripeApi, type StripeJson, serveStripeApiMock } from "@credits/stripe/testing";
import {
  Checks,
  checkout,
  deliver,
  dropDatabase,
  freshDatabase,
  ledgerChecks,
  ledgerFigures,
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

interface Purchase {
  paymentId: string;
  event: StripeJson;
}

// The server under test, the scenario's database and its own connection to terminate backends.
interface Target {
  base: string;
  dbName: string;
  sql: Sql;
  killerSql: Sql;
}

export async function terminateBackend(quick: boolean): Promise<Checks> {
  const checks = new Checks("webhook backend terminated");
  const targeted = quick ? 3 : 10;
  const looped = quick ? 24 : 200;
  const stripe = await serveStripeApiMock();
  const db = await freshDatabase("terminate");
  const sql = sqlClient(db.url, 4);
  const killerSql = sqlClient(`${PG}/postgres`, 1);
  let server: ServerProcess | null = null;
  try {
    await prepareDatabase(db.url);
    server = await serverProcess(db.url, stripe);
    const target: Target = { base: server.url, dbName: db.name, sql, killerSql };
    const purchases = await startPurchases(target.base, stripe, targeted + looped);
    console.log(
      `  injected: ${targeted} targeted terminations (payment row locked, waiting webhook backend terminated), then pg_terminate_backend of every non-idle backend every 30-120 ms during ${looped} deliveries`,
    );
    await targetedTerminations(checks, target, purchases, targeted);
    const loop = await terminationLoop(target, purchases, targeted, looped);
    await loopChecks(checks, target, loop, targeted);
  } finally {
    await server?.stop();
    await sql.end({ timeout: 2 });
    await killerSql.end({ timeout: 2 });
    await dropDatabase(db.name);
    await stripe.close();
  }
  return checks;
}

// Checkouts by 4 buyers, `count` of them at least, whose webhooks the phases deliver.
async function startPurchases(base: string, stripe: ServedStripeApi, count: number): Promise<Purchase[]> {
  const packs = await packageIds(base);
  const buyers = await Promise.all(Array.from({ length: 4 }, () => signUp(base)));
  const purchases: Purchase[] = [];
  await Promise.all(
    buyers.map(async (buyer) => {
      for (let i = 0; i < Math.ceil(count / buyers.length); i++) {
        const started = await checkout(base, buyer.cookie, pick(packs), stripe);
        if (started.paymentId && started.event) purchases.push({ paymentId: started.paymentId, event: started.event });
      }
    }),
  );
  return purchases;
}

// Each of the first `targeted` purchases: its payment row locked, its webhook delivered (the
// transaction waits on the lock), the waiting backend terminated; then redelivered.
async function targetedTerminations(
  checks: Checks,
  target: Target,
  purchases: Purchase[],
  targeted: number,
): Promise<void> {
  const firstStatuses: number[] = [];
  let terminatedTargeted = 0;
  for (const purchase of purchases.slice(0, targeted)) {
    const { terminated, first, again } = await terminateOneDelivery(target, purchase);
    if (terminated) terminatedTargeted++;
    firstStatuses.push(first, again);
  }
  const pairs = [];
  for (let i = 0; i < firstStatuses.length; i += 2) pairs.push(`${firstStatuses[i]}→${firstStatuses[i + 1]}`);
  console.log(
    `  found (targeted): ${terminatedTargeted} backends terminated; delivery → redelivery: ${pairs.join(", ")}`,
  );
  checks.check(
    terminatedTargeted === targeted,
    "the waiting webhook backend was terminated each time",
    `${terminatedTargeted}/${targeted}`,
  );
  checks.check(
    firstStatuses.every((s, i) => (i % 2 === 0 ? s >= 500 : s >= 200 && s < 300)),
    "the interrupted delivery answers 5xx, the redelivery 2xx",
  );
}

async function terminateOneDelivery(
  { base, dbName, sql, killerSql }: Target,
  purchase: Purchase,
): Promise<{ terminated: boolean; first: number; again: number }> {
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked: () => void = () => {};
  const lockTaken = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const holder = sql.begin(async (tx) => {
    await tx`SELECT 1 FROM payments WHERE id = ${purchase.paymentId} FOR UPDATE`;
    locked();
    await released;
  });
  await lockTaken;
  const delivery = deliver(base, purchase.event);
  let killed = false;
  for (let i = 0; i < 100 && !killed; i++) {
    const rows = await killerSql<{ ok: boolean }[]>`
      SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
      WHERE datname = ${dbName} AND wait_event_type = 'Lock' AND state <> 'idle'`;
    killed = rows.some((r) => r.ok);
    if (!killed) await sleep(20);
  }
  const first = await delivery;
  release();
  await holder;
  let again = await deliver(base, purchase.event);
  for (let i = 0; i < 5 && !ok(again); i++) {
    await sleep(200);
    again = await deliver(base, purchase.event);
  }
  return { terminated: killed, first: first.status, again: again.status };
}

interface LoopOutcome {
  terminations: number;
  attempts: number;
  statuses: Map<number, number>;
  // The events delivered at least once, targeted ones included, and how many the loop had.
  delivered: Purchase[];
  looped: number;
}

// Every non-idle backend of the database terminated every 30-120 ms while 8 clients deliver the
// rest of the events, each until it gets a 2xx.
async function terminationLoop(
  { base, dbName, killerSql }: Target,
  purchases: Purchase[],
  targeted: number,
  looped: number,
): Promise<LoopOutcome> {
  let terminating = true;
  let terminations = 0;
  const killer = (async () => {
    while (terminating) {
      const rows = await killerSql<{ ok: boolean }[]>`
        SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE datname = ${dbName} AND state <> 'idle' AND pid <> pg_backend_pid()`.catch(() => []);
      terminations += rows.filter((r) => r.ok).length;
      await sleep(rand(30, 120));
    }
  })();
  const statuses = new Map<number, number>();
  let attempts = 0;
  const attempt = async (purchase: Purchase) => {
    attempts++;
    const reply = await deliver(base, purchase.event, 10_000);
    statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
    return reply;
  };
  let queue = targeted;
  const rest = purchases.slice(targeted, targeted + looped);
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (queue < targeted + rest.length) {
        const purchase = purchases[queue++];
        if (!purchase) continue;
        for (let i = 0; i < 50; i++) {
          if (ok(await attempt(purchase))) break;
          await sleep(rand(10, 100));
        }
      }
    }),
  );
  // A quick run can finish before the killer catches a busy backend. Redeliver (a duplicate runs
  // the same inbox transaction) until it has, within a bound, so the fault is really injected.
  const until = Date.now() + 20_000;
  while (terminations === 0 && Date.now() < until) await Promise.all(rest.map(attempt));
  terminating = false;
  await killer;
  const delivered = purchases.slice(0, Math.min(queue, purchases.length));
  return { terminations, attempts, statuses, delivered, looped: rest.length };
}

async function loopChecks(checks: Checks, { sql }: Target, loop: LoopOutcome, targeted: number): Promise<void> {
  const { terminations, attempts, statuses, delivered } = loop;
  const per = await purchaseRowsPer(
    sql,
    delivered.map((p) => p.paymentId),
  );
  const once = delivered.filter((p) => per.get(p.paymentId) === 1).length;
  const figures = await ledgerFigures(sql);
  console.log(
    `  found (loop): ${terminations} backends terminated, ${attempts} delivery attempts for ${loop.looped} events; statuses ${[...statuses].map(([s, n]) => `${s}×${n}`).join(", ")}`,
  );
  console.log(
    `  credits: ${once} of ${delivered.length} delivered purchases credited exactly once; ledger: ${JSON.stringify(figures)}`,
  );
  checks.check(terminations > 0, "backends were terminated during deliveries", `${terminations}`);
  checks.check(
    [...statuses.keys()].every((s) => s === 0 || s >= 500 || (s >= 200 && s < 300)),
    "failed deliveries answer 5xx (never 4xx)",
  );
  checks.check(
    once === delivered.length && delivered.length > targeted,
    "every purchase credited exactly once after redelivery",
    `${once}/${delivered.length}`,
  );
  ledgerChecks(checks, figures);
}
