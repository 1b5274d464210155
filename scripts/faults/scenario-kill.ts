// 2. SIGKILL a server at random moments while webhooks and spends run against it; restart it;
// redeliver every webhook that got no 2xx (and some that did); retry every spend that got no
// answer with its own idempotency key.
import { randomUUID } from "node:crypto";
import { type ServedStripeApi, type StripeJson, serveStripeApiMock } from "@credits/stripe/testing";
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
  acked: boolean;
  attempts: number;
}

interface Spend {
  userId: string;
  key: string;
  amount: number;
  status: number;
}

// What the load runs with: the servers, the API key that spends, the buyers and their purchases.
interface Arranged {
  servers: ServerProcess[];
  key: string;
  buyers: { id: string; cookie: string }[];
  purchases: Purchase[];
}

export async function killUnderLoad(quick: boolean): Promise<Checks> {
  const checks = new Checks("SIGKILL under load");
  const seconds = quick ? 6 : 40;
  const clients = quick ? 8 : 24;
  const stripe = await serveStripeApiMock();
  const db = await freshDatabase("kill");
  const sql = sqlClient(db.url);
  const servers: ServerProcess[] = [];
  const killing = { stop: false };
  try {
    const { adminEmail } = await prepareDatabase(db.url);
    servers.push(...(await Promise.all([0, 1].map(() => serverProcess(db.url, stripe)))));
    const arranged = await arrange(servers, adminEmail, stripe, { clients, purchaseCount: quick ? 40 : 400 });
    console.log(
      `  injected: ${arranged.purchases.length} purchases' webhooks + spends from ${clients} clients over 2 instances for ${seconds} s, SIGKILL at random moments`,
    );
    const killer = killAtRandom(servers, quick, killing);
    const { spends, counts } = await load(arranged, seconds);
    killing.stop = true;
    const kills = await killer;
    for (const server of servers) if (!server.alive) await server.start();
    const redeliveries = await redeliver(servers, arranged.purchases);
    const unanswered = spends.filter((s) => s.status === 0 || s.status >= 500).length;
    const spendRetries = await retryUnanswered(servers, arranged.key, spends);
    console.log(
      `  found: kills=${kills}, ${JSON.stringify(counts)}, redeliveries=${redeliveries}, spends without a 2xx=${unanswered}, spend retries=${spendRetries}`,
    );
    await ledgerOutcome(checks, sql, arranged.purchases, spends, kills);
  } finally {
    killing.stop = true;
    await Promise.all(servers.map((s) => s.stop()));
    await sql.end({ timeout: 2 });
    await dropDatabase(db.name);
    await stripe.close();
  }
  return checks;
}

// The purchases whose webhooks will be delivered under fire, started before any kill, and some
// credits to spend, granted up front.
async function arrange(
  servers: ServerProcess[],
  adminEmail: string,
  stripe: ServedStripeApi,
  { clients, purchaseCount }: { clients: number; purchaseCount: number },
): Promise<Arranged> {
  const [a] = servers;
  if (!a) throw new Error("no server");
  const adminCookie = await login(a.url, adminEmail);
  const key = await apiKey(a.url, adminCookie);
  const packs = await packageIds(a.url);
  const buyers = await Promise.all(Array.from({ length: clients }, () => signUp(a.url)));
  const purchases: Purchase[] = [];
  let made = 0;
  await Promise.all(
    buyers.map(async (buyer) => {
      while (made < purchaseCount) {
        made++;
        const started = await checkout(a.url, buyer.cookie, pick(packs), stripe);
        if (started.paymentId && started.event)
          purchases.push({ paymentId: started.paymentId, event: started.event, acked: false, attempts: 0 });
      }
    }),
  );
  for (const buyer of buyers) {
    await http(a.url, "POST", "/api/v1/credits/grant", {
      key,
      body: { userId: buyer.id, amount: 100_000, idempotencyKey: randomUUID(), reason: "faults" },
    });
  }
  return { servers, key, buyers, purchases };
}

// SIGKILLs a random server every 0.5-1.5 s (2.5 s in a full run) and starts it again, until
// told to stop; answers how many kills.
async function killAtRandom(servers: ServerProcess[], quick: boolean, killing: { stop: boolean }): Promise<number> {
  let kills = 0;
  while (!killing.stop) {
    await sleep(rand(500, quick ? 1500 : 2500));
    if (killing.stop) break;
    const victim = pick(servers);
    await victim.kill();
    kills++;
    await sleep(rand(50, 800));
    await victim.start();
  }
  return kills;
}

// One client per buyer until the deadline, on a random server each time: half deliver the next
// purchase's webhook, half spend.
async function load({ servers, key, buyers, purchases }: Arranged, seconds: number) {
  const spends: Spend[] = [];
  let queue = 0;
  const deadline = Date.now() + seconds * 1000;
  const counts = { deliveries: 0, deliveries2xx: 0, deliveriesFailed: 0, spends: 0, spendsFailed: 0 };
  async function client(buyer: { id: string }) {
    while (Date.now() < deadline) {
      const base = pick(servers).url;
      if (Math.random() < 0.5 && queue < purchases.length) {
        const purchase = purchases[queue++];
        if (!purchase) continue;
        const reply = await deliver(base, purchase.event, 5_000);
        purchase.attempts++;
        counts.deliveries++;
        if (ok(reply)) {
          purchase.acked = true;
          counts.deliveries2xx++;
        } else counts.deliveriesFailed++;
      } else {
        const spend = { userId: buyer.id, key: randomUUID(), amount: rand(1, 5), status: 0 };
        spends.push(spend);
        const reply = await http(base, "POST", "/api/v1/credits/spend", {
          key,
          body: { userId: spend.userId, amount: spend.amount, idempotencyKey: spend.key, reason: "faults" },
          timeoutMs: 5_000,
        });
        spend.status = reply.status;
        counts.spends++;
        if (!ok(reply)) counts.spendsFailed++;
      }
      await sleep(rand(0, 20));
    }
  }
  await Promise.all(buyers.map(client));
  return { spends, counts };
}

// Stripe redelivers what got no 2xx, and we redeliver ~20% of what did.
async function redeliver(servers: ServerProcess[], purchases: Purchase[]): Promise<number> {
  let redeliveries = 0;
  for (const purchase of purchases) {
    const again = !purchase.acked || Math.random() < 0.2;
    if (!again) continue;
    for (let attempt = 0; attempt < 5; attempt++) {
      redeliveries++;
      const reply = await deliver(pick(servers).url, purchase.event);
      if (ok(reply)) {
        purchase.acked = true;
        break;
      }
      await sleep(200);
    }
  }
  return redeliveries;
}

// Clients retry the spends that got no answer, with the same key.
async function retryUnanswered(servers: ServerProcess[], key: string, spends: Spend[]): Promise<number> {
  let spendRetries = 0;
  for (const spend of spends.filter((s) => s.status === 0 || s.status >= 500)) {
    for (let attempt = 0; attempt < 5 && (spend.status === 0 || spend.status >= 500); attempt++) {
      spendRetries++;
      const reply = await http(pick(servers).url, "POST", "/api/v1/credits/spend", {
        key,
        body: { userId: spend.userId, amount: spend.amount, idempotencyKey: spend.key, reason: "faults" },
      });
      spend.status = reply.status;
    }
  }
  return spendRetries;
}

async function ledgerOutcome(
  checks: Checks,
  sql: Sql,
  purchases: Purchase[],
  spends: Spend[],
  kills: number,
): Promise<void> {
  const per = await purchaseRowsPer(
    sql,
    purchases.map((p) => p.paymentId),
  );
  const once = purchases.filter((p) => per.get(p.paymentId) === 1).length;
  // Client keys are stored scoped to their caller (core/ledger-keys.ts): c:k:<api key id>:<key>.
  const spendRows = await sql<{ key: string; n: number }[]>`
    SELECT regexp_replace(idempotency_key, '^c:[ku]:[^:]+:', '') AS key, count(*)::int AS n FROM credit_transactions WHERE kind = 'spend' GROUP BY 1`;
  const applied = new Map(spendRows.map((r) => [r.key, r.n]));
  const acked = spends.filter((s) => ok({ status: s.status, body: null, headers: null }));
  const ackedApplied = acked.filter((s) => applied.get(s.key) === 1).length;
  const unackedApplied = spends.filter(
    (s) => !ok({ status: s.status, body: null, headers: null }) && applied.has(s.key),
  ).length;
  const figures = await ledgerFigures(sql);
  console.log(
    `  credits: ${once} of ${purchases.length} purchases credited exactly once; spends acked ${acked.length}, applied once ${ackedApplied}, unacked but applied ${unackedApplied}`,
  );
  console.log(`  ledger: ${JSON.stringify(figures)}`);
  checks.check(kills > 0, "servers were killed", `${kills} kills`);
  checks.check(
    once === purchases.length && purchases.every((p) => p.acked),
    "every purchase credited exactly once",
    `${once}/${purchases.length}`,
  );
  checks.check(
    ackedApplied === acked.length && applied.size === acked.length + unackedApplied,
    "each acknowledged spend applied exactly once",
    `${ackedApplied}/${acked.length}`,
  );
  ledgerChecks(checks, figures);
}
