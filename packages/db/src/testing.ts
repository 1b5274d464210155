import { randomBytes, randomUUID } from "node:crypto";
import { openAsBlob, writeFileSync } from "node:fs";
import type { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { createDatabase, type Database, type DatabaseHandle, rowsOf } from "./client.ts";
import * as schema from "./schema.ts";
import { lendSharedPglite } from "./testing-shared-pglite.ts";

export interface TestDatabase extends DatabaseHandle {
  // The connection string of this test's own database; undefined on PGlite.
  url: string | undefined;
}

// The path of a migrated PGlite data directory, dumped once per test run by the suite's global
// setup (writePgliteImage). initdb and the migrations cost several seconds of every test file's
// start; loading the image costs a fraction of that (in the unit project's reused workers, once per
// worker: testing-shared-pglite.ts). The migrations themselves stay covered: the image is made by
// them, and migrations.test.ts runs them on empty databases.
export const PGLITE_IMAGE_ENV = "CREDITS_TEST_PGLITE_IMAGE";
// The same cluster dumped before its first migration (just after initdb): the older databases of the
// migration tests (packages/db/test/older-database.ts) load it instead of running initdb, about
// 4.5 s of CPU each in a test worker against about 1.2 s for the load.
export const PGLITE_EMPTY_IMAGE_ENV = "CREDITS_TEST_PGLITE_EMPTY_IMAGE";

// A fresh, migrated database for one test file: a new database on the PostgreSQL server at
// `serverUrl` (dropped again on close), or an in-memory PGlite when there is none. `shared`: on
// PGlite, the worker's one instance, reset to the image's state for this file (lendSharedPglite);
// only where a worker runs one file at a time and nothing else in the file asks for it.
export async function createTestDatabase(
  serverUrl: string | undefined,
  options: { shared?: boolean } = {},
): Promise<TestDatabase> {
  if (!serverUrl) {
    const image = process.env[PGLITE_IMAGE_ENV];
    const handle =
      image && options.shared
        ? createDatabase({ pglite: await lendSharedPglite(image) })
        : // Backed by the file: read once, where a Blob of its bytes would copy them twice more.
          createDatabase({ dataDir: "memory://", loadDataDir: image ? await openAsBlob(image) : undefined });
    // On the image: checks every migration is applied and unchanged, and applies none.
    await handle.migrate();
    return { ...handle, url: undefined };
  }
  const name = `credits_test_${randomBytes(6).toString("hex")}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = withDatabase(serverUrl, name);
  const handle = createDatabase({ url, poolMax: 40 });
  await handle.migrate();
  return {
    ...handle,
    url,
    async close() {
      await handle.close();
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

// Migrates a new PGlite on `dataDir` (an empty directory, kept: see PGLITE_DATA_DIR_ENV) and writes
// its data directory to `path` (uncompressed: loading it is then a copy, not a gunzip, in every
// test file), and before the migrations to `emptyPath` (see PGLITE_EMPTY_IMAGE_ENV). Two settings make every load cheaper (profiled: together most of a start's CPU):
// - a buffer pool of 16 MB instead of 128 MB, which PostgreSQL zeroes at every start; a test
//   file's data is a few MB, in memory either way;
// - a checkpoint before the dump, so that a start does not replay the migrations' WAL (the image is
//   taken from a running database: it always starts with a recovery, now of almost nothing).
export async function writePgliteImage(path: string, dataDir: string, emptyPath: string): Promise<void> {
  const handle = createDatabase({ dataDir });
  try {
    const client = (handle.db as unknown as { $client: PGlite }).$client;
    await client.exec("CHECKPOINT");
    writeFileSync(emptyPath, Buffer.from(await (await client.dumpDataDir("none")).arrayBuffer()));
    await handle.migrate();
    await client.exec("ALTER SYSTEM SET shared_buffers = '16MB'");
    await client.exec("CHECKPOINT");
    const image = await client.dumpDataDir("none");
    writeFileSync(path, Buffer.from(await image.arrayBuffer()));
  } finally {
    await handle.close();
  }
}

export function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

// For tests that count what a code path sends to the database: a handle on the same test database
// whose driver calls `record` with every statement (PostgreSQL: postgres.js `debug`, transactions'
// BEGIN/COMMIT included; PGlite: every query, exec and transaction of its one connection).
export function recordingDatabase(
  test: TestDatabase,
  record: (statement: string) => void,
): DatabaseHandle & { closeRecorder(): Promise<void> } {
  if (test.url) {
    const client = postgres(test.url, { max: 4, onnotice: () => {}, debug: (_connection, query) => record(query) });
    const db = drizzlePostgres(client, { schema }) as unknown as Database;
    return { ...test, db, readDb: db, closeRecorder: () => client.end() };
  }
  const client = (test.db as unknown as { $client: PGlite }).$client;
  const db = drizzlePglite(recordingProxy(client, record), { schema }) as unknown as Database;
  return { ...test, db, readDb: db, closeRecorder: async () => {} };
}

function recordingProxy<T extends object>(target: T, record: (statement: string) => void): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver);
      if (typeof value !== "function") return value;
      if (property === "query" || property === "exec") {
        return (text: string, ...rest: unknown[]) => {
          record(text);
          return value.call(object, text, ...rest);
        };
      }
      if (property === "transaction") {
        return (work: (tx: object) => Promise<unknown>) => {
          record("BEGIN");
          return value.call(object, (tx: object) => work(recordingProxy(tx, record)));
        };
      }
      return value.bind(object);
    },
  });
}

// A ledger chain broken twice, as a restore from an older backup could leave it: two spends of 5
// written as the posting function would (allocations, the grant's remainder, the balance), but the
// first row's balance_after `jump` too high and the second's back in line: breaks of +jump, then
// -jump, whose rows still sum to the balance. The user holds exactly one grant with at least 10
// remaining.
export async function plantBrokenChain(db: Database, userId: string, jump = 2): Promise<[number, number]> {
  const seqs: number[] = [];
  for (const off of [jump - 5, -10]) {
    const [row] = rowsOf<{ seq: string }>(
      await db.execute(sql`
        WITH entry AS (
          INSERT INTO credit_transactions (user_id, amount, balance_after, kind, idempotency_key)
          SELECT id, -5, credits_balance + ${off}, 'spend', gen_random_uuid()::text FROM users WHERE id = ${userId}::uuid
          RETURNING id, seq)
        INSERT INTO ledger_allocations (entry_id, grant_id, amount)
        SELECT entry.id, cg.id, -5 FROM entry, credit_grants cg WHERE cg.user_id = ${userId}::uuid
        RETURNING (SELECT seq FROM entry)::bigint AS seq`),
    );
    seqs.push(Number(row?.seq));
  }
  await db.execute(sql`UPDATE credit_grants SET remaining = remaining - 10 WHERE user_id = ${userId}::uuid`);
  await db.execute(sql`UPDATE users SET credits_balance = credits_balance - 10 WHERE id = ${userId}::uuid`);
  return [seqs[0] as number, seqs[1] as number];
}

// A user (a new one, or the one given, with no ledger yet) granted 100 credits, then their chain
// broken as plantBrokenChain does: what an admin may acknowledge (reconciliation.acknowledgeBreak).
export async function plantLedgerBreak(
  db: Database,
  userId?: string,
  jump = 2,
): Promise<{ userId: string; seq: number; seqs: [number, number] }> {
  const [user] = userId
    ? [{ id: userId }]
    : rowsOf<{ id: string }>(
        await db.execute(sql`INSERT INTO users (email) VALUES (${`break-${randomUUID()}@example.test`}) RETURNING id`),
      );
  if (!user) throw new Error("no user for the break");
  await db.execute(sql`
    SELECT count(*) FROM post_ledger(jsonb_build_array(jsonb_build_object('ord', 0, 'user_id', ${user.id}::uuid,
      'amount', 100, 'kind', 'grant', 'idempotency_key', gen_random_uuid()::text)))`);
  const seqs = await plantBrokenChain(db, user.id, jump);
  return { userId: user.id, seq: seqs[0], seqs };
}
