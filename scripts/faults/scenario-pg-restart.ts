// 3. PostgreSQL restarted under load: what the server answers meanwhile, /readyz, how long until
// requests succeed again (no server restart), and nothing lost or doubled: clients retry each
// failed spend and webhook with the same idempotency key / event.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync } from "node:fs";
import { promisify } from "node:util";
import { type ServedStripeApi, type StripeJson, serveStripeApiMock } from "@credits/stripe/testing";
import {
  apiKey,
  Checks,
  checkout,
  deliver,
  dropDatabase,
  freshDatabase,
  http,
  type LedgerFigures,
  ledgerChecks,
  ledgerFigures,
  login,
  ok,
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

const run = promisify(execFile);

export async function pgReady(): Promise<boolean> {
  try {
    await run("pg_isready", ["-q", "-h", "127.0.0.1", "-p", "5432"]);
    return true;
  } catch {
    return false;
  }
}

async function restartPostgres(): Promise<void> {
  const version =
    readdirSync("/etc/postgresql")
      .sort((a, b) => Number(a) - Number(b))
      .at(-1) ?? "15";
  await run("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "restart"]);
}

interface Purchase {
  paymentId: string;
  event: StripeJson;
}

// What the load runs with: the server, the API key that spends, the buyers and their purchases.
interface Arranged {
  base: string;
  key: string;
  buyers: { id: string }[];
  purchases: Purchase[];
}

// What the clients saw: failed answers by kind, when each spend got its 2xx, each logical spend's
// outcome by key, how far they got through the purchases, and their retries.
interface LoadState {
  during: Map<string, number>;
  acked: number[];
  spendKeys: Map<string, string>;
  queue: number;
  retries: number;
}

interface Outage {
  from: number;
  to: number;
}

type ReadyzSample = { at: number; status: number };

export async function postgresRestart(quick: boolean): Promise<Checks> {
  const checks = new Checks("PostgreSQL restart");
  const seconds = quick ? 6 : 20;
  const clients = quick ? 8 : 32;
  const stripe = await serveStripeApiMock();
  const db = await freshDatabase("pgrestart");
  let sql = sqlClient(db.url);
  let server: ServerProcess | null = null;
  try {
    const { adminEmail } = await prepareDatabase(db.url);
    server = await serverProcess(db.url, stripe);
    const arranged = await arrange(server.url, adminEmail, stripe, { clients, perBuyer: quick ? 3 : 8 });
    const readyz = pollReadyz(server.url);
    const load = startLoad(arranged, seconds);
    await sleep(Math.floor((seconds * 1000) / 3));
    const outage = await restartUnderLoad(seconds, clients);
    await load.done;
    const pollerStopped = readyz.stop();
    checks.check(server.alive, "the server process survived the restart");
    await pollerStopped;
    // The runner's own connections died too.
    await sql.end({ timeout: 1 }).catch(() => {});
    sql = sqlClient(db.url);
    const recovery = recoveryFigures(readyz.samples, load.state, outage);
    const ledger = await ledgerOutcome(sql, load.state, arranged.purchases);
    report(checks, load.state, recovery, ledger);
  } finally {
    for (let i = 0; i < 100 && !(await pgReady()); i++) await sleep(200);
    await server?.stop();
    await sql.end({ timeout: 2 }).catch(() => {});
    await dropDatabase(db.name);
    await stripe.close();
    const up = await pgReady();
    console.log(`  pg_isready afterwards: ${up ? "accepting connections" : "NOT READY"}`);
    if (!up) checks.check(false, "PostgreSQL left running");
  }
  return checks;
}

// An API key, buyers with a million credits each, and `perBuyer` checkouts each whose webhooks
// the load delivers.
async function arrange(
  base: string,
  adminEmail: string,
  stripe: ServedStripeApi,
  { clients, perBuyer }: { clients: number; perBuyer: number },
): Promise<Arranged> {
  const adminCookie = await login(base, adminEmail);
  const key = await apiKey(base, adminCookie);
  const packs = await packageIds(base);
  const buyers = await Promise.all(Array.from({ length: clients }, () => signUp(base)));
  for (const buyer of buyers) {
    await http(base, "POST", "/api/v1/credits/grant", {
      key,
      body: { userId: buyer.id, amount: 1_000_000, idempotencyKey: randomUUID(), reason: "faults" },
    });
  }
  const purchases: Purchase[] = [];
  await Promise.all(
    buyers.map(async (buyer) => {
      for (let i = 0; i < perBuyer; i++) {
        const started = await checkout(base, buyer.cookie, pick(packs), stripe);
        if (started.paymentId && started.event) purchases.push({ paymentId: started.paymentId, event: started.event });
      }
    }),
  );
  return { base, key, buyers, purchases };
}

// /readyz every 100 ms until stopped.
function pollReadyz(base: string): { samples: ReadyzSample[]; stop(): Promise<void> } {
  const samples: ReadyzSample[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const reply = await http(base, "GET", "/readyz", { timeoutMs: 3_000 });
      samples.push({ at: Date.now(), status: reply.status });
      await sleep(100);
    }
  })();
  return {
    samples,
    stop() {
      polling = false;
      return poller;
    },
  };
}

// One client per buyer until the deadline: a fifth of the time the next purchase's webhook, else
// a spend; each retried with the same event or key until it is answered.
function startLoad({ base, key, buyers, purchases }: Arranged, seconds: number) {
  const state: LoadState = { during: new Map(), acked: [], spendKeys: new Map(), queue: 0, retries: 0 };
  const deadline = Date.now() + seconds * 1000;
  const client = async (buyer: { id: string }) => {
    while (Date.now() < deadline) {
      if (Math.random() < 0.2 && state.queue < purchases.length) {
        const purchase = purchases[state.queue++];
        if (!purchase) continue;
        await deliverUntilAccepted(base, purchase.event, state);
        continue;
      }
      await spendUntilAnswered(base, key, buyer.id, state);
      await sleep(rand(5, 30));
    }
  };
  return { state, done: Promise.all(buyers.map(client)) };
}

function note(state: LoadState, what: string, status: number) {
  if (status >= 200 && status < 300) return;
  const k = `${what} ${status === 0 ? "no answer" : status}`;
  state.during.set(k, (state.during.get(k) ?? 0) + 1);
}

async function deliverUntilAccepted(base: string, event: StripeJson, state: LoadState): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const reply = await deliver(base, event, 5_000);
    if (ok(reply)) break;
    note(state, "webhook", reply.status);
    state.retries++;
    await sleep(200);
  }
}

async function spendUntilAnswered(base: string, key: string, userId: string, state: LoadState): Promise<void> {
  const idempotencyKey = randomUUID();
  const amount = rand(1, 5);
  state.spendKeys.set(idempotencyKey, "pending");
  for (let attempt = 0; attempt < 100; attempt++) {
    const reply = await http(base, "POST", "/api/v1/credits/spend", {
      key,
      body: { userId, amount, idempotencyKey, reason: "faults" },
      timeoutMs: 5_000,
    });
    if (ok(reply)) {
      state.spendKeys.set(idempotencyKey, "2xx");
      state.acked.push(Date.now());
      break;
    }
    note(state, "spend", reply.status);
    if (reply.status > 0 && reply.status < 500) {
      state.spendKeys.set(idempotencyKey, String(reply.status));
      break;
    }
    state.retries++;
    await sleep(200);
  }
}

async function restartUnderLoad(seconds: number, clients: number): Promise<Outage> {
  const outage = { from: Date.now(), to: 0 };
  await restartPostgres();
  outage.to = Date.now();
  for (let i = 0; i < 50 && !(await pgReady()); i++) await sleep(100);
  const restartMs = outage.to - outage.from;
  console.log(
    `  injected: pg_ctlcluster restart after ${Math.floor(seconds / 3)} s of load from ${clients} clients (took ${restartMs} ms)`,
  );
  return outage;
}

interface Recovery {
  readyDuring: ReadyzSample[];
  ready503: number;
  readyRecovery: number;
  spendRecovery: number;
}

// /readyz while PostgreSQL was down, and how long after it was back /readyz and spends succeeded.
function recoveryFigures(readyz: ReadyzSample[], state: LoadState, outage: Outage): Recovery {
  const readyDuring = readyz.filter((r) => r.at >= outage.from && r.at <= outage.to);
  const ready503 = readyDuring.filter((r) => r.status === 503).length;
  const readyBack = readyz.find((r) => r.at > outage.to && r.status === 200);
  const firstSpendBack = state.acked.filter((at) => at > outage.to).sort((x, y) => x - y)[0];
  const readyRecovery = readyBack ? readyBack.at - outage.to : -1;
  const spendRecovery = firstSpendBack ? firstSpendBack - outage.to : -1;
  return { readyDuring, ready503, readyRecovery, spendRecovery };
}

interface LedgerOutcome {
  applied: Map<string, number>;
  ackedKeys: string[];
  ackedOnce: number;
  delivered: number;
  once: number;
  figures: LedgerFigures;
}

async function ledgerOutcome(sql: Sql, state: LoadState, purchases: Purchase[]): Promise<LedgerOutcome> {
  // Client keys are stored scoped to their caller (core/ledger-keys.ts): c:k:<api key id>:<key>.
  const spendRows = await sql<{ key: string; n: number }[]>`
    SELECT regexp_replace(idempotency_key, '^c:[ku]:[^:]+:', '') AS key, count(*)::int AS n FROM credit_transactions WHERE kind = 'spend' GROUP BY 1`;
  const applied = new Map(spendRows.map((r) => [r.key, r.n]));
  const ackedKeys = [...state.spendKeys].filter(([, outcome]) => outcome === "2xx").map(([k]) => k);
  const ackedOnce = ackedKeys.filter((k) => applied.get(k) === 1).length;
  const delivered = purchases.slice(0, state.queue);
  const per = await purchaseRowsPer(
    sql,
    delivered.map((p) => p.paymentId),
  );
  const once = delivered.filter((p) => per.get(p.paymentId) === 1).length;
  const figures = await ledgerFigures(sql);
  return { applied, ackedKeys, ackedOnce, delivered: delivered.length, once, figures };
}

function report(checks: Checks, state: LoadState, recovery: Recovery, ledger: LedgerOutcome): void {
  const { during, spendKeys, retries } = state;
  const { readyDuring, ready503, readyRecovery, spendRecovery } = recovery;
  const { applied, ackedKeys, ackedOnce, delivered, once, figures } = ledger;
  console.log(`  found: answers during the outage: ${[...during].map(([k, n]) => `${k}×${n}`).join(", ") || "none"}`);
  console.log(
    `  /readyz while PostgreSQL was down: ${ready503} of ${readyDuring.length} polls 503 (others: ${
      readyDuring
        .filter((r) => r.status !== 503)
        .map((r) => r.status)
        .join(",") || "none"
    })`,
  );
  console.log(
    `  recovery after PostgreSQL was back: /readyz 200 after ${readyRecovery} ms, first successful spend after ${spendRecovery} ms; retries ${retries}`,
  );
  console.log(
    `  spends: ${spendKeys.size} logical, ${ackedKeys.length} got a 2xx, ${ackedOnce} applied exactly once, ledger has ${applied.size} spend keys; webhooks ${once}/${delivered} credited once`,
  );
  console.log(`  ledger: ${JSON.stringify(figures)}`);
  const errorStatuses = [...during.keys()].map((k) => k.split(" ").slice(1).join(" "));
  checks.check(
    errorStatuses.every((s) => s === "no answer" || s.startsWith("503")),
    "requests fail with 503 meanwhile (no 500, no 4xx, nothing wrongly 2xx)",
    [...new Set(errorStatuses)].join(","),
  );
  checks.check(
    readyDuring.length === 0 || ready503 > 0,
    "/readyz 503 while PostgreSQL is down",
    `${ready503}/${readyDuring.length}`,
  );
  checks.check(
    spendRecovery >= 0 && spendRecovery < 10_000,
    "server recovers within seconds without restart",
    `${spendRecovery} ms`,
  );
  checks.check(
    ackedOnce === ackedKeys.length && applied.size === ackedKeys.length,
    "each logical spend applied exactly once (ledger keys = 2xx keys)",
    `${ackedOnce}/${ackedKeys.length}, ledger ${applied.size}`,
  );
  checks.check(once === delivered, "every delivered purchase credited exactly once", `${once}/${delivered}`);
  ledgerChecks(checks, figures);
}
