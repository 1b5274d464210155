// Behind PgBouncer in transaction mode: the real server, its DATABASE_URL pointing at a real
// PgBouncer (pool of 4 server connections for a server pool of 10, so transactions of different
// requests share server connections), prepared statements off, LISTEN on the direct URL. Real
// HTTP: sign-up, parallel spends, holds, a local checkout, the live balance.
import { randomUUID } from "node:crypto";
import { pgbouncerInstalled, type RunningPgBouncer, startPgBouncer } from "@credits/db/testing/pgbouncer";
import { env, parseEnv } from "@credits/env";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../../src/main.ts";
import { openSse } from "../notify/sse-client.ts";
import { adminWithKey, call, pack, sessionIdOf, signUp, testDb } from "../payments/helpers.ts";

const INSTALL = "apt-get install pgbouncer";
const installed = pgbouncerInstalled();
if (testDb.url && !installed) {
  if (env.CI) throw new Error(`CI=true and no pgbouncer at /usr/sbin/pgbouncer: ${INSTALL}`);
  console.log(`pooler tests skipped: no pgbouncer at /usr/sbin/pgbouncer (${INSTALL})`);
}

describe.skipIf(!testDb.url || !installed)("behind PgBouncer in transaction mode (PostgreSQL)", () => {
  let bouncer: RunningPgBouncer;
  let server: RunningServer;
  let key: string;
  const databaseName = () => new URL(testDb.url ?? "").pathname.slice(1);

  beforeAll(async () => {
    const direct = new URL(testDb.url ?? "");
    bouncer = await startPgBouncer(`${direct.protocol}//${direct.username}@${direct.host}`, { poolSize: 4 });
    server = await startServer(
      parseEnv({
        NODE_ENV: "test",
        PORT: "0",
        HOST: "127.0.0.1",
        PUBLIC_URL: "http://localhost:3000",
        AUTH_RATE_LIMIT_PER_MINUTE: "1000",
        CHECKOUT_RATE_LIMIT_PER_MINUTE: "1000",
        DATABASE_URL: `${bouncer.url}/${databaseName()}`,
        DATABASE_POOL_MAX: "10",
        DATABASE_PREPARE: "false",
      }),
      { log: () => {} },
    );
    ({ key } = await adminWithKey(server, ["credits:read", "credits:spend", "credits:grant"]));
  });
  afterAll(async () => {
    await server?.close();
    await bouncer?.stop();
  });

  const post = (path: string, body: unknown) => call(server.url, "POST", path, { key, body });
  const balance = async (userId: string) =>
    (await call(server.url, "GET", `/api/v1/users/${userId}/credits`, { key })).body.balance;

  it("spends in parallel: every one answered, the balance exact, the ledger sums to it", async () => {
    const user = await signUp(server.url, "pooled");
    expect(
      (await post("/api/v1/credits/grant", { userId: user.id, amount: 500, idempotencyKey: randomUUID() })).status,
    ).toBe(200);
    const replies = await Promise.all(
      Array.from({ length: 60 }, () =>
        post("/api/v1/credits/spend", { userId: user.id, amount: 3, idempotencyKey: randomUUID() }),
      ),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(60).fill(200));
    expect(await balance(user.id)).toBe(500 - 180);
    // A retried spend (same key) is answered from the first, through any server connection.
    const key1 = randomUUID();
    const [first, second] = await Promise.all([
      post("/api/v1/credits/spend", { userId: user.id, amount: 7, idempotencyKey: key1 }),
      post("/api/v1/credits/spend", { userId: user.id, amount: 7, idempotencyKey: key1 }),
    ]);
    expect(second?.body.transactionId).toBe(first?.body.transactionId);
    const history = await call(server.url, "GET", "/api/v1/me/credits?limit=100", { cookie: user.cookie });
    expect(history.body.balance).toBe(500 - 187);
    expect(history.body.transactions).toHaveLength(62);
    expect(history.body.transactions.reduce((sum: number, t: { amount: number }) => sum + t.amount, 0)).toBe(313);
  });

  it("holds: placed in parallel, captured and released, each once", async () => {
    const user = await signUp(server.url, "holder");
    await post("/api/v1/credits/grant", { userId: user.id, amount: 100, idempotencyKey: randomUUID() });
    const held = await Promise.all(
      Array.from({ length: 10 }, () =>
        post("/api/v1/credits/holds", { userId: user.id, amount: 10, idempotencyKey: randomUUID(), ttlSeconds: 60 }),
      ),
    );
    expect(held.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(await balance(user.id)).toBe(0);
    const settled = await Promise.all(
      held.map((h, i) =>
        i % 2 === 0
          ? post(`/api/v1/credits/holds/${h.body.holdId}/capture`, { amount: 4 })
          : call(server.url, "POST", `/api/v1/credits/holds/${h.body.holdId}/release`, { key }),
      ),
    );
    expect(settled.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(await balance(user.id)).toBe(100 - 5 * 4);
  });

  it("a local checkout is paid and credited once", async () => {
    const standard = await pack("standard");
    const user = await signUp(server.url, "buyer");
    const started = await call(server.url, "POST", "/api/v1/checkout", {
      cookie: user.cookie,
      body: { packageId: standard.id },
    });
    expect(started.status).toBe(201);
    const path = new URL(started.body.checkoutUrl).pathname;
    const [paid, again] = await Promise.all([
      call(server.url, "POST", `${path}/pay`),
      call(server.url, "POST", `${path}/pay`),
    ]);
    expect([paid.status, again.status].sort()).toEqual([303, 404]);
    expect(await balance(user.id)).toBe(standard.credits);
    const confirmed = await call(server.url, "POST", "/api/v1/checkout/confirm", {
      cookie: user.cookie,
      body: { sessionId: sessionIdOf(path) },
    });
    expect(confirmed.body).toMatchObject({ payment: { status: "paid", credited: true }, balance: standard.credits });
  });

  it("the live balance arrives through the pooler (read from the ledger, no LISTEN: ADR 020)", async () => {
    const user = await signUp(server.url, "watcher");
    const stream = await openSse(`${server.url}/api/v1/me/events`, { cookie: user.cookie });
    try {
      expect(JSON.parse((await stream.next()).data)).toMatchObject({ balance: 0 });
      const granted = await post("/api/v1/credits/grant", {
        userId: user.id,
        amount: 25,
        idempotencyKey: randomUUID(),
      });
      expect(JSON.parse((await stream.next()).data)).toEqual({
        balance: 25,
        transactionId: granted.body.transactionId,
      });
    } finally {
      stream.close();
    }
  });

  it("the traffic went through PgBouncer: its console counts the transactions", async () => {
    // Counted from a baseline, not against a fixed total: how many transactions the tests above
    // take changes with the code (a read became one statement), the pooler's part must not.
    const user = await signUp(server.url, "counted");
    const before = (await bouncer.stats(databaseName())).transactions;
    const reads = 20;
    for (let i = 0; i < reads; i++) expect(await balance(user.id)).toBe(0);
    await expect
      .poll(async () => (await bouncer.stats(databaseName())).transactions, { timeout: 5_000 })
      .toBeGreaterThanOrEqual(before + reads);
    expect((await bouncer.stats(databaseName())).poolMode).toBe("transaction");
  });
});
