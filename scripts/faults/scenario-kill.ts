// 2. SIGKILL a server at random moments while webhooks and spends run against it; restart it;
// redeliver every webhook that got no 2xx (and some that did); retry every spend that got no
// answer with its own idempotency key.
import { randomUUID } from "node:crypto";
import { type StripeJson, serveStripeApiMock } from "@credits/stripe/testing";
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
  serverProcess,
  signUp,
  sleep,
  sqlClient,
} from "./lib.ts";

export async function killUnderLoad(quick: boolean): Promise<Checks> {
  const checks = new Checks("SIGKILL under load");
  const seconds = quick ? 6 : 40;
  const purchaseCount = quick ? 40 : 400;
  const clients = quick ? 8 : 24;
  const stripe = await serveStripeApiMock();
  const db = await freshDatabase("kill");
  const sql = sqlClient(db.url);
  const servers: ServerProcess[] = [];
  let stopKiller = false;
  try {
    const { adminEmail } = await prepareDatabase(db.url);
    servers.push(...(await Promise.all([0, 1].map(() => serverProcess(db.url, stripe)))));
    const [a] = servers;
    if (!a) throw new Error("no server");
    const adminCookie = await login(a.url, adminEmail);
    const key = await apiKey(a.url, adminCookie);
    const packs = await packageIds(a.url);
    // The purchases whose webhooks will be delivered under fire, started before any kill.
    const buyers = await Promise.all(Array.from({ length: clients }, () => signUp(a.url)));
    const purchases: { paymentId: string; event: StripeJson; acked: boolean; attempts: number }[] = [];
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
    // Some credits to spend, granted up front.
    for (const buyer of buyers) {
      await http(a.url, "POST", "/api/v1/credits/grant", {
        key,
        body: { userId: buyer.id, amount: 100_000, idempotencyKey: randomUUID(), reason: "faults" },
      });
    }
    console.log(
      `  injected: ${purchases.length} purchases' webhooks + spends from ${clients} clients over 2 instances for ${seconds} s, SIGKILL at random moments`,
    );

    let kills = 0;
    const killer = (async () => {
      while (!stopKiller) {
        await sleep(rand(500, quick ? 1500 : 2500));
        if (stopKiller) break;
        const victim = pick(servers);
        await victim.kill();
        kills++;
        await sleep(rand(50, 800));
        await victim.start();
      }
    })();

    const spends: { userId: string; key: string; amount: number; status: number }[] = [];
    let queue = 0;
    const deadline = Date.now() + seconds * 1000;
    const counts = { deliveries: 0, deliveries2xx: 0, deliveriesFailed: 0, spends: 0, spendsFailed: 0 };
    async function client(index: number) {
      const buyer = buyers[index];
      if (!buyer) return;
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
    await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
    stopKiller = true;
    await killer;
    for (const server of servers) if (!server.alive) await server.start();

    // Stripe redelivers what got no 2xx, and we redeliver ~20% of what did.
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
    // Clients retry the spends that got no answer, with the same key.
    let spendRetries = 0;
    const unanswered = spends.filter((s) => s.status === 0 || s.status >= 500).length;
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
      `  found: kills=${kills}, ${JSON.stringify(counts)}, redeliveries=${redeliveries}, spends without a 2xx=${unanswered}, spend retries=${spendRetries}`,
    );
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
  } finally {
    stopKiller = true;
    await Promise.all(servers.map((s) => s.stop()));
    await sql.end({ timeout: 2 });
    await dropDatabase(db.name);
    await stripe.close();
  }
  return checks;
}
