import { randomBytes, randomUUID } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createCreditService } from "@credits/core";
import { sql } from "drizzle-orm";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { createDatabase, type Database, type DatabaseHandle, rowsOf } from "../src/client.ts";
import { createLedgerStore } from "../src/ledger-store.ts";
import { withDatabase } from "../src/testing.ts";
import { expectInvariantHolds } from "./fixtures.ts";
import { onPostgres, testDb } from "./setup.ts";

// Migration 0007 on a database that lived before grants: balances, ledger rows and open holds.
const drizzleFolder = fileURLToPath(new URL("../../../drizzle", import.meta.url));
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

// A copy of the migrations folder that ends at 0006.
function folderAt0006(): string {
  const folder = mkdtempSync(join(tmpdir(), "credits-0006-"));
  cpSync(drizzleFolder, folder, { recursive: true });
  const journalPath = join(folder, "meta", "_journal.json");
  const journal = JSON.parse(readFileSync(journalPath, "utf8")) as { entries: { tag: string }[] };
  journal.entries = journal.entries.filter((entry) => entry.tag < "0007");
  writeFileSync(journalPath, JSON.stringify(journal));
  cleanups.push(async () => rmSync(folder, { recursive: true, force: true }));
  return folder;
}

async function databaseAt0006(): Promise<DatabaseHandle> {
  const migrationsFolder = folderAt0006();
  if (!onPostgres || !testDb.url) {
    const handle = createDatabase({ dataDir: "memory://" });
    cleanups.push(() => handle.close());
    // biome-ignore lint/suspicious/noExplicitAny: drizzle's PGlite migrator wants its own driver type
    await migratePglite(handle.db as any, { migrationsFolder });
    return handle;
  }
  const name = `credits_0006_${randomBytes(6).toString("hex")}`;
  const admin = postgres(testDb.url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const handle = createDatabase({ url: withDatabase(testDb.url, name), poolMax: 4 });
  cleanups.push(async () => {
    await handle.close();
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });
  // biome-ignore lint/suspicious/noExplicitAny: drizzle's postgres-js migrator wants its own driver type
  await migratePostgres(handle.db as any, { migrationsFolder });
  return handle;
}

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
