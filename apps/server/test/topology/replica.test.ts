// On a replica: a real streaming replica of the local PostgreSQL (pg_basebackup, started on its
// own port), the real server with DATABASE_READ_URL pointing at it. With the replica's replay
// paused, what each read shows tells where it was served from: the stale-tolerant reads (export,
// audit log) from the replica, balances and history from the primary.
import { randomUUID } from "node:crypto";
import { type RunningReplica, replicaUnavailable, startReplica } from "@credits/db/testing/replica";
import { env, parseEnv } from "@credits/env";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../../src/main.ts";
import { adminWithKey, call, signUp, type TestUser, testDb } from "../payments/helpers.ts";

const serverOf = (url: string) => {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.username}@${parsed.host}`;
};
const unavailable = testDb.url ? await replicaUnavailable(`${serverOf(testDb.url)}/postgres`) : null;
if (unavailable) {
  if (env.CI) throw new Error(`CI=true and no streaming replica can be made: ${unavailable}`);
  console.log(`replica tests skipped: ${unavailable}`);
}

describe.skipIf(!testDb.url || unavailable !== null)("on a streaming replica (PostgreSQL)", () => {
  let replica: RunningReplica;
  let server: RunningServer;
  let admin: { cookie: string; key: string };
  let user: TestUser;
  const databaseName = () => new URL(testDb.url ?? "").pathname.slice(1);

  beforeAll(async () => {
    replica = await startReplica(serverOf(testDb.url ?? ""));
    server = await startServer(
      parseEnv({
        NODE_ENV: "test",
        PORT: "0",
        HOST: "127.0.0.1",
        PUBLIC_URL: "http://localhost:3000",
        AUTH_RATE_LIMIT_PER_MINUTE: "1000",
        DATABASE_URL: testDb.url,
        DATABASE_READ_URL: `${replica.url}/${databaseName()}`,
      }),
      { log: () => {} },
    );
    admin = await adminWithKey(server, ["credits:read", "credits:spend", "credits:grant"]);
    user = await signUp(server.url, "replicated");
    await post("/api/v1/credits/grant", { userId: user.id, amount: 100, idempotencyKey: randomUUID() });
    for (let i = 0; i < 4; i++)
      await post("/api/v1/credits/spend", { userId: user.id, amount: 1, idempotencyKey: randomUUID() });
    await replica.caughtUp();
  }, 180_000);
  afterAll(async () => {
    await replica?.resumeReplay().catch(() => {});
    await server?.close();
    await replica?.stop();
  });

  const post = (path: string, body: unknown) => call(server.url, "POST", path, { key: admin.key, body });
  const history = (query: string) => call(server.url, "GET", `/api/v1/me/credits?${query}`, { cookie: user.cookie });
  const exported = () => call(server.url, "GET", "/api/v1/gdpr/export", { cookie: user.cookie });
  const audit = () => call(server.url, "GET", "/api/v1/admin/audit?limit=50", { cookie: admin.cookie });

  it("replay paused: the balance and the history come from the primary, the export and the audit log from the replica", async () => {
    const before = (await exported()).body;
    expect(before.ledger).toHaveLength(5);
    await replica.pauseReplay();
    try {
      const spent = await post("/api/v1/credits/spend", { userId: user.id, amount: 7, idempotencyKey: randomUUID() });
      expect(spent.status).toBe(200);
      const adjusted = await call(server.url, "POST", "/api/v1/admin/adjust", {
        cookie: admin.cookie,
        body: { userId: user.id, amount: 3, reason: "replica test", idempotencyKey: randomUUID() },
      });
      expect(adjusted.status, JSON.stringify(adjusted.body)).toBeLessThan(300);
      // Read your own writes: the balance and the newest rows, from the primary (a later page too).
      const first = await history("limit=2");
      expect(first.body.balance).toBe(100 - 4 - 7 + 3);
      expect(first.body.transactions[1].id).toBe(spent.body.transactionId);
      const next = await history(`limit=1&cursor=${encodeURIComponent(first.body.nextCursor)}`);
      expect(next.body.transactions).toHaveLength(1);
      expect(next.body.balance).toBe(92);
      // The replica has not applied either change yet: the export and the audit log lag.
      const stale = (await exported()).body;
      expect(stale.balance).toBe(96);
      expect(stale.ledger).toHaveLength(5);
      expect((await audit()).body.actions.some((a: { reason: string }) => a.reason === "replica test")).toBe(false);
    } finally {
      await replica.resumeReplay();
    }
    await replica.caughtUp();
    expect((await exported()).body.ledger).toHaveLength(7);
    expect((await audit()).body.actions.some((a: { reason: string }) => a.reason === "replica test")).toBe(true);
  });
});
