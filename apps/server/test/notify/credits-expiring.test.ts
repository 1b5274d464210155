// credits.expiring: a grant with credits left is announced (webhook event in the outbox, and a
// mail) once, CREDITS_EXPIRING_NOTICE_DAYS before its expiresAt, however many instances sweep at
// once; a grant spent to 0 before the notice raises none. Two instances: two servers, each with
// its own pool on PostgreSQL (on PGlite, one process: two servers on the one database).
import { randomUUID } from "node:crypto";
import { renderMail } from "@credits/core";
import { createDatabase, createExpiryNoticeStore } from "@credits/db";
import { mails, outboxEvents } from "@credits/db/schema";
import { parseEnv } from "@credits/env";
import { and, asc, eq, inArray } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { startServer } from "../../src/main.ts";
import { startTestServer, testDb } from "../harness.ts";

const { db } = testDb;
const DAY = 86_400_000;
// The sweep's own timer stays out of the way: the test runs the notices itself.
const settings = { EXPIRY_SWEEP_INTERVAL_SECONDS: "86400", CREDITS_EXPIRING_NOTICE_DAYS: "7" };
const a = await startTestServer(settings);

async function otherInstance() {
  if (!testDb.url) return startTestServer(settings);
  const database = createDatabase({ url: testDb.url, poolMax: 3 });
  const env = parseEnv({
    NODE_ENV: "test",
    PORT: "0",
    HOST: "127.0.0.1",
    PUBLIC_URL: "http://localhost:3000",
    ...settings,
  });
  const other = await startServer(env, { database, log: () => {} });
  afterAll(async () => {
    await other.close();
    await database.close();
  });
  return other;
}
const b = await otherInstance();

async function newUser(): Promise<string> {
  const user = await a.services.auth.createUser({
    email: `expiring-${randomUUID()}@example.test`,
    password: "correct horse battery",
    role: "user",
  });
  return user.id;
}

async function grant(userId: string, amount: number, expiresInMs: number | null, priority = 10) {
  await a.services.credits.grant({
    userId,
    amount,
    idempotencyKey: randomUUID(),
    scope: { kind: "user", id: userId },
    terms: {
      category: "promotional",
      priority,
      expiresAt: expiresInMs === null ? null : new Date(Date.now() + expiresInMs),
    },
  });
}

const spend = (userId: string, amount: number) =>
  a.services.credits.spend({ userId, amount, idempotencyKey: randomUUID(), scope: { kind: "user", id: userId } });

const expiringOf = async (userIds: string[]) =>
  (
    await db
      .select({ payload: outboxEvents.payload })
      .from(outboxEvents)
      .where(and(inArray(outboxEvents.userId, userIds), eq(outboxEvents.type, "credits.expiring")))
      .orderBy(asc(outboxEvents.seq))
  ).map((row) => (row.payload as { data: Record<string, unknown> }).data);

const sweepEverywhere = () =>
  Promise.all([
    a.services.expiryNotices.runOnce(),
    b.services.expiryNotices.runOnce(),
    a.services.expiryNotices.runOnce(),
    b.services.expiryNotices.runOnce(),
  ]);

describe("credits.expiring", () => {
  it("two instances sweeping at once: one event and one mail per grant due, none for the others", async () => {
    const users = await Promise.all(Array.from({ length: 12 }, () => newUser()));
    const due = new Map<string, { userId: string; amount: number; expiresAt: string }>();
    for (const [index, userId] of users.entries()) {
      await grant(userId, 100 + index, 3 * DAY + index * 60_000);
      // Not due: beyond the notice window, or never expiring.
      await grant(userId, 7, 30 * DAY, 20);
      await grant(userId, 9, null, 30);
      const { grants } = await a.services.credits.grants(userId);
      const soonest = grants.find((g) => g.amount === 100 + index);
      if (!soonest?.expiresAt) throw new Error("no due grant");
      due.set(soonest.id, { userId, amount: 100 + index, expiresAt: soonest.expiresAt.toISOString() });
    }
    // One user spends part of the due grant first: the notice says what is left.
    const [partial] = users;
    await spend(partial as string, 40);
    const partialGrant = [...due].find(([, g]) => g.userId === partial);
    if (partialGrant) partialGrant[1].amount -= 40;

    const counts = await sweepEverywhere();
    expect(counts.reduce((sum, count) => sum + count, 0)).toBe(due.size);
    const events = await expiringOf(users);
    expect(events).toHaveLength(due.size);
    expect(new Set(events.map((event) => event.grantId)).size).toBe(due.size);
    for (const event of events) {
      const expected = due.get(String(event.grantId));
      expect(event).toEqual({ grantId: event.grantId, ...expected });
    }
    const queued = await db
      .select({ cause: mails.cause, data: mails.data })
      .from(mails)
      .where(and(inArray(mails.userId, users), eq(mails.template, "credits_expiring")));
    expect(queued.map((mail) => mail.cause).sort()).toEqual(
      [...due.keys()].map((id) => `credits_expiring:${id}`).sort(),
    );

    // Later sweeps announce nothing again.
    expect(await sweepEverywhere()).toEqual([0, 0, 0, 0]);
    expect(await expiringOf(users)).toHaveLength(due.size);
  });

  it("a grant spent to 0 before its notice raises none (the user's other due grant still does)", async () => {
    const userId = await newUser();
    await grant(userId, 50, 2 * DAY);
    await grant(userId, 30, 4 * DAY, 20);
    // Priority 10 is spent first: the 50 are gone, the 30 untouched.
    await spend(userId, 50);
    await sweepEverywhere();
    const events = await expiringOf([userId]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ userId, amount: 30 });
    const queued = await db
      .select({ data: mails.data })
      .from(mails)
      .where(and(eq(mails.userId, userId), eq(mails.template, "credits_expiring")));
    expect(queued).toEqual([{ data: { grantId: events[0]?.grantId, credits: 30, expiresAt: events[0]?.expiresAt } }]);
  });

  it("the mail says how many credits expire and on which day", () => {
    const mail = renderMail("credits_expiring", { name: null, credits: 1500, expiresAt: "2026-12-11T09:30:00.000Z" });
    expect(mail.subject).toBe("1,500 of your credits expire on 2026-12-11");
    expect(mail.text).toContain("1,500 credits of your balance expire on 2026-12-11 (UTC)");
  });

  // Review: the sweep's claim locked the grants FOR UPDATE, so a spend of one (which takes it FOR
  // NO KEY UPDATE) waited for the whole batch's transaction. Two connections: PostgreSQL only.
  it.skipIf(!testDb.url)("a spend of a grant being announced does not wait for the sweep's transaction", async () => {
    const user = await newUser();
    await grant(user, 50, 3 * DAY);
    const sweeper = createDatabase({ url: testDb.url ?? "", poolMax: 1 });
    let spent: Promise<unknown> = Promise.resolve();
    try {
      const outcome = await createExpiryNoticeStore(sweeper.db).transaction(async (tx) => {
        const due = await tx.recordDue(new Date(), new Date(Date.now() + 7 * DAY), 1_000);
        expect(due.map((notice) => notice.userId)).toContain(user);
        spent = a.services.credits.spend({
          userId: user,
          amount: 10,
          idempotencyKey: randomUUID(),
          scope: { kind: "user", id: user },
        });
        const waited = new Promise<string>((resolve) => setTimeout(() => resolve("waited"), 3_000));
        // Not awaited in here: a spend waiting for this transaction would wait for ever.
        return Promise.race([spent.then(() => "spent"), waited]);
      });
      await spent;
      expect(outcome).toBe("spent");
    } finally {
      await sweeper.close();
    }
  });
});
