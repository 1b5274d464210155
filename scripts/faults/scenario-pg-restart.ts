// 3. PostgreSQL restarted under load: what the server answers meanwhile, /readyz, how long until
// requests succeed again (no server restart), and nothing lost or doubled: clients retry each
// failed spend and webhook with the same idempotency key / event.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync } from "node:fs";
import { promisify } from "node:util";
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
    const base = server.url;
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
    const purchases: { paymentId: string; event: StripeJson }[] = [];
    await Promise.all(
      buyers.map(async (buyer) => {
        for (let i = 0; i < (quick ? 3 : 8); i++) {
          const started = await checkout(base, buyer.cookie, pick(packs), stripe);
          if (started.paymentId && started.event)
            purchases.push({ paymentId: started.paymentId, event: started.event });
        }
      }),
    );

    const during = new Map<string, number>();
    const outage = { from: 0, to: 0 };
    const note = (what: string, status: number) => {
      if (status >= 200 && status < 300) return;
      const k = `${what} ${status === 0 ? "no answer" : status}`;
      during.set(k, (during.get(k) ?? 0) + 1);
    };
    // /readyz every 100 ms.
    const readyz: { at: number; status: number }[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const reply = await http(base, "GET", "/readyz", { timeoutMs: 3_000 });
        readyz.push({ at: Date.now(), status: reply.status });
        await sleep(100);
      }
    })();
    const acked: { at: number }[] = [];
    const spendKeys = new Map<string, string>(); // key -> outcome
    let queue = 0;
    let retries = 0;
    const deadline = Date.now() + seconds * 1000;
    async function client(index: number) {
      const buyer = buyers[index];
      if (!buyer) return;
      while (Date.now() < deadline) {
        if (Math.random() < 0.2 && queue < purchases.length) {
          const purchase = purchases[queue++];
          if (!purchase) continue;
          for (let attempt = 0; attempt < 100; attempt++) {
            const reply = await deliver(base, purchase.event, 5_000);
            if (ok(reply)) break;
            note("webhook", reply.status);
            retries++;
            await sleep(200);
          }
          continue;
        }
        const idempotencyKey = randomUUID();
        const amount = rand(1, 5);
        spendKeys.set(idempotencyKey, "pending");
        for (let attempt = 0; attempt < 100; attempt++) {
          const reply = await http(base, "POST", "/api/v1/credits/spend", {
            key,
            body: { userId: buyer.id, amount, idempotencyKey, reason: "faults" },
            timeoutMs: 5_000,
          });
          if (ok(reply)) {
            spendKeys.set(idempotencyKey, "2xx");
            acked.push({ at: Date.now() });
            break;
          }
          note("spend", reply.status);
          if (reply.status > 0 && reply.status < 500) {
            spendKeys.set(idempotencyKey, String(reply.status));
            break;
          }
          retries++;
          await sleep(200);
        }
        await sleep(rand(5, 30));
      }
    }
    const load = Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
    await sleep(Math.floor((seconds * 1000) / 3));
    outage.from = Date.now();
    await restartPostgres();
    outage.to = Date.now();
    for (let i = 0; i < 50 && !(await pgReady()); i++) await sleep(100);
    const restartMs = outage.to - outage.from;
    console.log(
      `  injected: pg_ctlcluster restart after ${Math.floor(seconds / 3)} s of load from ${clients} clients (took ${restartMs} ms)`,
    );
    await load;
    polling = false;
    checks.check(server.alive, "the server process survived the restart");
    await poller;
    // The runner's own connections died too.
    await sql.end({ timeout: 1 }).catch(() => {});
    sql = sqlClient(db.url);

    const readyDuring = readyz.filter((r) => r.at >= outage.from && r.at <= outage.to);
    const ready503 = readyDuring.filter((r) => r.status === 503).length;
    const readyBack = readyz.find((r) => r.at > outage.to && r.status === 200);
    const firstSpendBack = acked
      .map((a) => a.at)
      .filter((at) => at > outage.to)
      .sort((x, y) => x - y)[0];
    const readyRecovery = readyBack ? readyBack.at - outage.to : -1;
    const spendRecovery = firstSpendBack ? firstSpendBack - outage.to : -1;
    // Client keys are stored scoped to their caller (core/ledger-keys.ts): c:k:<api key id>:<key>.
    const spendRows = await sql<{ key: string; n: number }[]>`
      SELECT regexp_replace(idempotency_key, '^c:[ku]:[^:]+:', '') AS key, count(*)::int AS n FROM credit_transactions WHERE kind = 'spend' GROUP BY 1`;
    const applied = new Map(spendRows.map((r) => [r.key, r.n]));
    const ackedKeys = [...spendKeys].filter(([, outcome]) => outcome === "2xx").map(([k]) => k);
    const ackedOnce = ackedKeys.filter((k) => applied.get(k) === 1).length;
    const delivered = purchases.slice(0, queue);
    const per = await purchaseRowsPer(
      sql,
      delivered.map((p) => p.paymentId),
    );
    const once = delivered.filter((p) => per.get(p.paymentId) === 1).length;
    const figures = await ledgerFigures(sql);
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
      `  spends: ${spendKeys.size} logical, ${ackedKeys.length} got a 2xx, ${ackedOnce} applied exactly once, ledger has ${applied.size} spend keys; webhooks ${once}/${delivered.length} credited once`,
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
    checks.check(
      once === delivered.length,
      "every delivered purchase credited exactly once",
      `${once}/${delivered.length}`,
    );
    ledgerChecks(checks, figures);
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
