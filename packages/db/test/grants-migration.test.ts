import { randomUUID } from "node:crypto";
import { createCreditService } from "@credits/core";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { type Database, rowsOf } from "../src/client.ts";
import { createLedgerStore } from "../src/ledger-store.ts";
import { expectInvariantHolds } from "./fixtures.ts";
import { databaseBefore } from "./older-database.ts";
import { testDb } from "./setup.ts";

// Migration 0007 on a database that lived before grants: balances, ledger rows and open holds.
const databaseAt0006 = () => databaseBefore("0007");

// What 0006's code wrote: a user, a grant and a spend through post_ledger_batch, an open hold with
// its reservation row.
async function legacyUser(db: Database, credit: number, spent: number, held: number) {
  const [user] = rowsOf<{ id: string }>(
    await db.execute(sql`INSERT INTO users (email) VALUES (${`legacy-${randomUUID()}@example.test`}) RETURNING id`),
  );
  const userId = user?.id ?? "";
  const postings = [
    { ord: 0, user_id: userId, amount: credit, kind: "grant", idempotency_key: `c:${randomUUID()}` },
    { ord: 1, user_id: userId, amount: -spent, kind: "spend", idempotency_key: `c:${randomUUID()}` },
  ].filter((posting) => posting.amount !== 0);
  await db.execute(sql`SELECT * FROM post_ledger_batch(${JSON.stringify(postings)}::jsonb)`);
  const holdId = randomUUID();
  await db.execute(sql`INSERT INTO holds (id, user_id, amount, idempotency_key, expires_at)
                       VALUES (${holdId}, ${userId}, ${held}, ${randomUUID()}, now() + interval '1 hour')`);
  await db.execute(sql`WITH changed AS (
      UPDATE users SET credits_balance = credits_balance - ${held}::bigint WHERE id = ${userId} RETURNING credits_balance)
    INSERT INTO credit_transactions (user_id, amount, balance_after, kind, idempotency_key, hold_id)
    SELECT ${userId}, ${-held}::bigint, credits_balance, 'hold', ${`s:hold:${holdId}`}, ${holdId} FROM changed`);
  return { userId, holdId };
}

describe("migrating existing balances into grants", () => {
  it(`each balance becomes one non-expiring paid grant; old holds release into a paid grant (${testDb.driver})`, async () => {
    const handle = await databaseAt0006();
    const funded = await legacyUser(handle.db, 100, 30, 20);
    const emptied = await legacyUser(handle.db, 10, 0, 10);
    await handle.migrate();
    await expectInvariantHolds(handle.db);

    const store = createLedgerStore(handle.db);
    const credits = createCreditService({ store });
    expect(await credits.balance(funded.userId)).toBe(50);
    expect(await credits.balance(emptied.userId)).toBe(0);
    const [grant] = (await credits.grants(funded.userId)).grants;
    expect(grant).toMatchObject({ category: "paid", source: "migration", amount: 50, remaining: 50, expiresAt: null });
    expect((await credits.grants(emptied.userId)).grants).toEqual([]);

    expect((await credits.capture(funded.holdId, 5)).balance).toBe(65);
    expect((await credits.release(emptied.holdId)).balance).toBe(10);
    await expectInvariantHolds(handle.db);
    const view = await credits.grants(funded.userId);
    expect(view.grants.map((g) => [g.category, g.remaining, g.expiresAt])).toEqual([
      ["paid", 50, null],
      ["paid", 15, null],
    ]);
    expect(
      (
        await credits.spend({
          scope: { kind: "user", id: "t" },
          userId: funded.userId,
          amount: 65,
          idempotencyKey: "all",
        })
      ).balance,
    ).toBe(0);
    await expectInvariantHolds(handle.db);
  });
});
