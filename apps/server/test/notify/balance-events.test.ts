// GET /api/v1/me/events: the live balance over server-sent events, fed by the ledger trigger's
// NOTIFY, across server instances on PostgreSQL.
import { randomUUID } from "node:crypto";
import { createDatabase } from "@credits/db";
import { parseEnv } from "@credits/env";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../../src/main.ts";
import { testDb } from "../harness.ts";
import { call, fullKey, fund, provisionAdminKeys, server, signUp } from "../rest-contract-helpers.ts";
import { openSse, type SseStream } from "./sse-client.ts";

provisionAdminKeys();

const eventsUrl = (base = server.url) => `${base}/api/v1/me/events`;
const streams: SseStream[] = [];
async function events(cookie: string, extra: Record<string, string> = {}, base = server.url) {
  const stream = await openSse(eventsUrl(base), { cookie, ...extra });
  streams.push(stream);
  return stream;
}
afterAll(() => {
  for (const stream of streams) stream.close();
});

async function spend(userId: string, amount: number, base = server.url) {
  const reply = await call("POST", "/api/v1/credits/spend", {
    base,
    key: fullKey,
    body: { userId, amount, idempotencyKey: randomUUID() },
  });
  expect(reply.status).toBe(200);
  return reply.body as { transactionId: string; balance: number };
}

describe("live balance", () => {
  it("refuses a request without a valid session cookie (401, JSON)", async () => {
    for (const cookie of [undefined, "session=", "session=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "session=%00%0d%0a"]) {
      const reply = await call("GET", "/api/v1/me/events", cookie ? { cookie } : {});
      expect(reply.status).toBe(401);
      expect(reply.body.error.code).toBe("UNAUTHENTICATED");
    }
    // An API key is not a session: tools read the balance when they need it.
    const reply = await call("GET", "/api/v1/me/events", { key: fullKey });
    expect(reply.status).toBe(401);
  });

  it("sends the current balance on connect, then each change, and never another user's", async () => {
    const alice = await signUp("alice");
    const bob = await signUp("bob");
    await fund(alice.id, 100);
    const stream = await events(alice.cookie);
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    const first = await stream.next();
    expect(first.event).toBe("balance");
    expect(JSON.parse(first.data)).toMatchObject({ balance: 100 });
    await fund(bob.id, 50);
    await spend(bob.id, 5);
    const spent = await spend(alice.id, 30);
    const change = await stream.next();
    expect(JSON.parse(change.data)).toEqual({ balance: 70, transactionId: spent.transactionId });
    expect(Number(change.id)).toBeGreaterThan(Number(first.id));
    await expect(stream.next(300)).rejects.toThrow("no event in time");
  });

  it("resumes from Last-Event-ID: nothing new, no event; something new, the current balance", async () => {
    const carol = await signUp("carol");
    await fund(carol.id, 40);
    const first = await events(carol.cookie);
    const seen = await first.next();
    first.close();
    const resumed = await events(carol.cookie, { "last-event-id": seen.id ?? "" });
    await expect(resumed.next(300)).rejects.toThrow("no event in time");
    resumed.close();
    await spend(carol.id, 15);
    const later = await events(carol.cookie, { "last-event-id": seen.id ?? "" });
    expect(JSON.parse((await later.next()).data)).toMatchObject({ balance: 25 });
    // A hostile id counts as none: the current balance is sent.
    const hostile = await events(carol.cookie, { "last-event-id": "99999999999999999999999" });
    expect(JSON.parse((await hostile.next()).data)).toMatchObject({ balance: 25 });
  });

  it("bounds the streams per user: the sixth gets 429", async () => {
    const dave = await signUp("dave");
    const open: SseStream[] = [];
    for (let i = 0; i < 5; i++) open.push(await events(dave.cookie));
    const refused = await call("GET", "/api/v1/me/events", { cookie: dave.cookie });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe("RATE_LIMITED");
    open[0]?.close();
    await open[0]?.ended;
    // The closed one's slot is free again once the server sees it gone.
    await expect.poll(async () => (await events(dave.cookie)).status, { timeout: 5_000 }).toBe(200);
  });

  it("ends the stream at log-out (checked with each heartbeat)", async () => {
    const quick = await startQuickHeartbeatServer();
    const erin = await signUp("erin");
    const stream = await events(erin.cookie, {}, quick.url);
    await stream.next();
    await expect.poll(() => stream.heartbeats(), { timeout: 5_000 }).toBeGreaterThan(0);
    const logout = await call("POST", "/api/v1/auth/logout", { cookie: erin.cookie });
    expect(logout.status).toBeLessThan(300);
    await Promise.race([stream.ended, timeout(5_000)]);
  });
});

describe.skipIf(!testDb.url)("live balance across instances (PostgreSQL)", () => {
  let other: RunningServer;
  beforeAll(async () => {
    const database = createDatabase({ url: testDb.url, poolMax: 4 });
    other = await startServer(testEnv(), { database, log: () => {} });
    return async () => {
      await other.close();
      await database.close();
    };
  });

  it("a spend through the API on instance B reaches a stream opened on instance A", async () => {
    const frank = await signUp("frank");
    await fund(frank.id, 90);
    const stream = await events(frank.cookie);
    expect(JSON.parse((await stream.next()).data)).toMatchObject({ balance: 90 });
    const spent = await spend(frank.id, 12, other.url);
    expect(JSON.parse((await stream.next()).data)).toEqual({ balance: 78, transactionId: spent.transactionId });
  });
});

function testEnv(overrides: Record<string, string> = {}) {
  return parseEnv({
    NODE_ENV: "test",
    PORT: "0",
    HOST: "127.0.0.1",
    PUBLIC_URL: "http://localhost:3000",
    AUTH_RATE_LIMIT_PER_MINUTE: "1000",
    ...overrides,
  });
}

async function startQuickHeartbeatServer(): Promise<RunningServer> {
  const quick = await startServer(testEnv({ EVENTS_HEARTBEAT_SECONDS: "1" }), { database: testDb, log: () => {} });
  afterAll(() => quick.close());
  return quick;
}

const timeout = (ms: number) =>
  new Promise<never>((_, reject) => setTimeout(() => reject(new Error("stream still open")), ms));
