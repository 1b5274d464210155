import { randomUUID } from "node:crypto";
import {
  clientKey,
  createCreditService,
  IdempotencyConflictError,
  InsufficientCreditsError,
  MAX_CREDITS_PER_OPERATION,
  NotFoundError,
} from "@credits/core";
import { eq, inArray, sql } from "drizzle-orm";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { rowsOf } from "../src/client.ts";
import { createLedgerStore } from "../src/ledger-store.ts";
import { creditTransactions, users as usersTable } from "../src/schema.ts";
import { expectInvariantHolds, fundedUser, TEST_SCOPE } from "./fixtures.ts";
import { onPostgres, testDb } from "./setup.ts";

// Group commit (ADR 006): standalone postings that arrive while their lane's statement runs are
// applied together by post_ledger. These tests prove that they really are batched, and
// that each posting of a batch still gets exactly the outcome it would have had alone.
const { db } = testDb;
const store = createLedgerStore(db);
const credits = createCreditService({ store });

// Rows written by one transaction share its xmin: the number of transactions behind them.
async function transactionsBehind(keys: string[]): Promise<number> {
  const result = await db.execute(
    sql`SELECT count(DISTINCT xmin::text)::int AS n FROM credit_transactions WHERE idempotency_key IN ${keys.map((k) => clientKey(TEST_SCOPE, k).key)}`,
  );
  return Number(rowsOf<{ n: number }>(result)[0]?.n);
}

describe("group commit", () => {
  it("spends that arrive together are applied in far fewer transactions, each with its own balance", async () => {
    const userId = await fundedUser(db, credits, 1_000);
    const keys = Array.from({ length: 50 }, () => randomUUID());
    const results = await Promise.all(
      keys.map((idempotencyKey) => credits.spend({ scope: TEST_SCOPE, userId, amount: 1, idempotencyKey })),
    );
    // One user, one lane: the first runs alone, the other 49 queue behind it and go together.
    expect(await transactionsBehind(keys)).toBeLessThanOrEqual(3);
    expect(results.map((r) => r.balance)).toEqual(Array.from({ length: 50 }, (_, i) => 999 - i));
    expect(new Set(results.map((r) => r.transactionId)).size).toBe(50);
    expect(await credits.balance(userId)).toBe(950);
    await expectInvariantHolds(db);
  });

  // Issue 17: a posting went to its user's hashed lane (the id's last 8 hex digits, modulo 4) and
  // waited there behind another user's statement even with other lanes idle. These four ids all
  // hashed to one lane: the first ran alone, the other three waited and went as one batch.
  it("spends of four users at once each run alone at once, whichever lanes their ids hash to", async () => {
    const prefix = randomUUID().slice(0, -8);
    const users = ["00000004", "00000008", "0000000c", "00000010"].map((tail) => `${prefix}${tail}`);
    await db.insert(usersTable).values(users.map((id) => ({ id, email: `lane-${id}@example.test` })));
    for (const userId of users) {
      await credits.grant({ scope: TEST_SCOPE, userId, amount: 10, idempotencyKey: `fund-${userId}` });
    }
    const keys = users.map(() => randomUUID());
    const results = await Promise.all(
      users.map((userId, i) =>
        credits.spend({ scope: TEST_SCOPE, userId, amount: 1, idempotencyKey: keys[i] as string }),
      ),
    );
    expect(results.map((r) => r.balance)).toEqual([9, 9, 9, 9]);
    expect(await transactionsBehind(keys)).toBe(4);
  });

  // Users interleaved, many spends in flight, lanes freeing up and filling again: a user's
  // postings never run on two lanes at once, so each user's answers come back in arrival order and
  // the balance_after chain holds (a lane released before its batch finished fails this).
  it("each user's spends apply in arrival order while lanes come and go", async () => {
    const people = await Promise.all(Array.from({ length: 6 }, () => fundedUser(db, credits, 1_000)));
    const calls = Array.from({ length: 40 }, () => people).flat();
    const answers: Promise<{ balance: number }>[] = [];
    for (const [i, userId] of calls.entries()) {
      answers.push(credits.spend({ scope: TEST_SCOPE, userId, amount: 1, idempotencyKey: randomUUID() }));
      if (i % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const done = await Promise.all(answers);
    for (const userId of people) {
      const balances = done.filter((_, i) => calls[i] === userId).map((r) => r.balance);
      expect(balances).toEqual(Array.from({ length: 40 }, (_, i) => 999 - i));
    }
    const broken = rowsOf<{ n: number }>(
      await db.execute(sql`
        SELECT count(*)::int AS n FROM (
          SELECT balance_after, amount, lag(balance_after) OVER (PARTITION BY user_id ORDER BY seq) AS prev
            FROM credit_transactions WHERE user_id IN ${people}) x
         WHERE prev IS NOT NULL AND balance_after <> prev + amount`),
    );
    expect(Number(broken[0]?.n)).toBe(0);
    await expectInvariantHolds(db);
  });

  it("each posting of a batch gets its own outcome: applied, refused, unknown user, replayed, conflicting", async () => {
    const userId = await fundedUser(db, credits, 10);
    const taken = randomUUID();
    await credits.spend({ scope: TEST_SCOPE, userId, amount: 1, idempotencyKey: taken });
    const repeated = randomUUID();
    // In call order (the lane applies them so): 9 → 5, 100 refused, 5 → 3, the same again, a
    // taken key with another amount, 3 → 0, and a user that does not exist.
    const outcomes = await Promise.allSettled([
      credits.spend({ scope: TEST_SCOPE, userId, amount: 4, idempotencyKey: randomUUID() }),
      credits.spend({ scope: TEST_SCOPE, userId, amount: 100, idempotencyKey: randomUUID() }),
      credits.spend({ scope: TEST_SCOPE, userId, amount: 2, idempotencyKey: repeated }),
      credits.spend({ scope: TEST_SCOPE, userId, amount: 2, idempotencyKey: repeated }),
      credits.spend({ scope: TEST_SCOPE, userId, amount: 7, idempotencyKey: taken }),
      credits.spend({ scope: TEST_SCOPE, userId, amount: 3, idempotencyKey: randomUUID() }),
      credits.spend({
        scope: TEST_SCOPE,
        userId: randomUUID(),
        amount: 1,
        idempotencyKey: randomUUID(),
      }),
    ]);
    const [first, refused, once, again, conflicting, last, nobody] = outcomes;
    expect(first).toMatchObject({ status: "fulfilled", value: { balance: 5 } });
    expect(refused).toMatchObject({ status: "rejected" });
    expect((refused as PromiseRejectedResult).reason).toBeInstanceOf(InsufficientCreditsError);
    expect(once).toMatchObject({ status: "fulfilled", value: { balance: 3 } });
    expect(again).toEqual(once);
    expect((conflicting as PromiseRejectedResult).reason).toBeInstanceOf(IdempotencyConflictError);
    expect(last).toMatchObject({ status: "fulfilled", value: { balance: 0 } });
    expect((nobody as PromiseRejectedResult).reason).toBeInstanceOf(NotFoundError);
    expect(await credits.balance(userId)).toBe(0);
    await expectInvariantHolds(db);
  });

  it("a posting that fails the batch statement fails alone; the others are applied", async () => {
    const userId = await fundedUser(db, credits, 10);
    const posting = (amount: number) => ({
      userId,
      amount,
      kind: "grant" as const,
      idempotencyKey: `s:${randomUUID()}`,
    });
    // Past the ledger's CHECK bound: the core never sends this, the store is called directly.
    const tooBig = posting(MAX_CREDITS_PER_OPERATION + 1);
    const [leader, good, bad, alsoGood] = await Promise.allSettled([
      store.post(posting(1)),
      store.post(posting(2)),
      store.post(tooBig),
      store.post(posting(3)),
    ]);
    expect(leader.status).toBe("fulfilled");
    expect(good).toMatchObject({ status: "fulfilled", value: { balanceAfter: 13 } });
    expect(bad.status).toBe("rejected");
    expect(alsoGood).toMatchObject({ status: "fulfilled", value: { balanceAfter: 16 } });
    expect(await credits.balance(userId)).toBe(16);
    const rows = await db
      .select()
      .from(creditTransactions)
      .where(eq(creditTransactions.idempotencyKey, tooBig.idempotencyKey));
    expect(rows).toHaveLength(0);
    await expectInvariantHolds(db);
  });

  it("two batchers (two server instances) racing on the same keys debit each key once", async () => {
    const userId = await fundedUser(db, credits, 500);
    const other = createCreditService({ store: createLedgerStore(db) });
    const keys = Array.from({ length: 100 }, () => randomUUID());
    const [mine, theirs] = await Promise.all(
      [credits, other].map((service) =>
        Promise.all(
          keys.map((idempotencyKey) => service.spend({ scope: TEST_SCOPE, userId, amount: 1, idempotencyKey })),
        ),
      ),
    );
    expect(theirs?.map((r) => r.transactionId)).toEqual(mine?.map((r) => r.transactionId));
    expect(await credits.balance(userId)).toBe(400);
    const rows = await db
      .select()
      .from(creditTransactions)
      .where(
        inArray(
          creditTransactions.idempotencyKey,
          keys.map((k) => clientKey(TEST_SCOPE, k).key),
        ),
      );
    expect(rows).toHaveLength(100);
    await expectInvariantHolds(db);
  });

  it.runIf(onPostgres)(
    "a key committed elsewhere while the batch waits on it: that posting is taken back, the rest stand",
    async () => {
      const userId = await fundedUser(db, credits, 10);
      const elsewhere = await fundedUser(db, credits, 10);
      const key = randomUUID();
      // Another transaction writes the key (for another user) and stays open.
      const other = postgres(testDb.url as string, { max: 1, onnotice: () => {} });
      let commit = () => {};
      const committed = new Promise<void>((resolve) => {
        commit = resolve;
      });
      const holding = other.begin(async (tx) => {
        await tx`UPDATE users SET credits_balance = credits_balance - 1 WHERE id = ${elsewhere}`;
        const [row] = await tx`INSERT INTO credit_transactions (user_id, amount, balance_after, kind, idempotency_key)
                 VALUES (${elsewhere}, -1, 9, 'spend', ${clientKey(TEST_SCOPE, key).key}) RETURNING id`;
        // The spend's grant allocation, as post_ledger would write it (the invariant checks it).
        await tx`WITH taken AS (UPDATE credit_grants SET remaining = remaining - 1 WHERE user_id = ${elsewhere} RETURNING id)
                 INSERT INTO ledger_allocations (entry_id, grant_id, amount) SELECT ${row?.id}, id, -1 FROM taken`;
        await committed;
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      // The first runs alone; the next two go as one batch, which waits on the open key.
      const spends = Promise.allSettled([
        credits.spend({ scope: TEST_SCOPE, userId, amount: 1, idempotencyKey: randomUUID() }),
        credits.spend({ scope: TEST_SCOPE, userId, amount: 2, idempotencyKey: key }),
        credits.spend({ scope: TEST_SCOPE, userId, amount: 3, idempotencyKey: randomUUID() }),
      ]);
      for (let waited = 0; ; waited += 20) {
        const waiting = await db.execute(sql`
          SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE wait_event_type = 'Lock' AND query LIKE '%post_ledger(%'`);
        if (rowsOf<{ n: number }>(waiting)[0]?.n === 1) break;
        if (waited > 5_000) throw new Error("the batch never waited on the open key");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      commit();
      await holding;
      await other.end();
      const [first, conflicting, last] = await spends;
      expect(first).toMatchObject({ status: "fulfilled", value: { balance: 9 } });
      expect((conflicting as PromiseRejectedResult).reason).toBeInstanceOf(IdempotencyConflictError);
      // The batch applied the key's 2 credits before it found the key taken, and took them back.
      expect(last).toMatchObject({ status: "fulfilled", value: { balance: 6 } });
      expect(await credits.balance(userId)).toBe(6);
      expect(await credits.balance(elsewhere)).toBe(9);
      await expectInvariantHolds(db);
    },
  );
});
