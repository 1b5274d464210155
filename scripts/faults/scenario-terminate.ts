// 5. The webhook transaction's backend terminated. Targeted: hold the payment row's lock, deliver
// the webhook (its transaction waits on the lock), terminate the waiting backend: the delivery
// must answer 5xx and the redelivery credit once. Then a loop: terminate every non-idle backend
// of the database every 30-120 ms while deliveries run; each is redelivered until it gets a 2xx.

import { type StripeJson, serveStripeApiMock } from "@credits/stripe/testing";
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
  serverProcess,
  signUp,
  sleep,
  sqlClient,
} from "./lib.ts";

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
    const base = server.url;
    const packs = await packageIds(base);
    const buyers = await Promise.all(Array.from({ length: 4 }, () => signUp(base)));
    const purchases: { paymentId: string; event: StripeJson }[] = [];
    await Promise.all(
      buyers.map(async (buyer) => {
        for (let i = 0; i < Math.ceil((targeted + looped) / buyers.length); i++) {
          const started = await checkout(base, buyer.cookie, pick(packs), stripe);
          if (started.paymentId && started.event)
            purchases.push({ paymentId: started.paymentId, event: started.event });
        }
      }),
    );
    console.log(
      `  injected: ${targeted} targeted terminations (payment row locked, waiting webhook backend terminated), then pg_terminate_backend of every non-idle backend every 30-120 ms during ${looped} deliveries`,
    );

    // Targeted.
    const firstStatuses: number[] = [];
    let terminatedTargeted = 0;
    for (const purchase of purchases.slice(0, targeted)) {
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
          WHERE datname = ${db.name} AND wait_event_type = 'Lock' AND state <> 'idle'`;
        killed = rows.some((r) => r.ok);
        if (!killed) await sleep(20);
      }
      if (killed) terminatedTargeted++;
      const first = await delivery;
      release();
      await holder;
      firstStatuses.push(first.status);
      let again = await deliver(base, purchase.event);
      for (let i = 0; i < 5 && !ok(again); i++) {
        await sleep(200);
        again = await deliver(base, purchase.event);
      }
      firstStatuses.push(again.status);
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

    // Loop.
    let terminating = true;
    let terminations = 0;
    const killer = (async () => {
      while (terminating) {
        const rows = await killerSql<{ ok: boolean }[]>`
          SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
          WHERE datname = ${db.name} AND state <> 'idle' AND pid <> pg_backend_pid()`.catch(() => []);
        terminations += rows.filter((r) => r.ok).length;
        await sleep(rand(30, 120));
      }
    })();
    const statuses = new Map<number, number>();
    let attempts = 0;
    let queue = targeted;
    const rest = purchases.slice(targeted, targeted + looped);
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (queue < targeted + rest.length) {
          const purchase = purchases[queue++];
          if (!purchase) continue;
          for (let i = 0; i < 50; i++) {
            attempts++;
            const reply = await deliver(base, purchase.event, 10_000);
            statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
            if (ok(reply)) break;
            await sleep(rand(10, 100));
          }
        }
      }),
    );
    // A quick run can finish before the killer catches a busy backend. Redeliver (a duplicate runs
    // the same inbox transaction) until it has, within a bound, so the fault is really injected.
    const until = Date.now() + 20_000;
    while (terminations === 0 && Date.now() < until) {
      await Promise.all(
        rest.map(async (purchase) => {
          attempts++;
          const reply = await deliver(base, purchase.event, 10_000);
          statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        }),
      );
    }
    terminating = false;
    await killer;
    const delivered = purchases.slice(0, Math.min(queue, purchases.length));
    const per = await purchaseRowsPer(
      sql,
      delivered.map((p) => p.paymentId),
    );
    const once = delivered.filter((p) => per.get(p.paymentId) === 1).length;
    const figures = await ledgerFigures(sql);
    console.log(
      `  found (loop): ${terminations} backends terminated, ${attempts} delivery attempts for ${rest.length} events; statuses ${[...statuses].map(([s, n]) => `${s}×${n}`).join(", ")}`,
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
  } finally {
    await server?.stop();
    await sql.end({ timeout: 2 });
    await killerSql.end({ timeout: 2 });
    await dropDatabase(db.name);
    await stripe.close();
  }
  return checks;
}
