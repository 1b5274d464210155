import { sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { rowsOf } from "../src/client.ts";
import { databaseBefore } from "./older-database.ts";

// Migration 0045 builds users_created_at_id_idx inside the migrator's transaction, or accepts the
// one an operator built beforehand with CREATE INDEX CONCURRENTLY (the same definition), and stops
// on one that is not that definition (ADR 026).
const MIGRATION = "0045_search17_users_newest";
const usersIndexes = async (handle: Awaited<ReturnType<typeof databaseBefore>>) =>
  rowsOf<{ indexdef: string }>(
    await handle.db.execute(
      sql`SELECT indexdef FROM pg_indexes WHERE tablename = 'users' AND indexdef LIKE '%(created_at%' ORDER BY indexname`,
    ),
  ).map((row) => row.indexdef);

it("accepts users_created_at_id_idx built beforehand, concurrently, and builds no second one", async () => {
  const handle = await databaseBefore(MIGRATION);
  await handle.db.execute(sql`CREATE INDEX CONCURRENTLY users_created_at_id_idx ON users (created_at, id)`);
  await handle.migrate();
  expect(await usersIndexes(handle)).toEqual([
    expect.stringMatching(/^CREATE INDEX users_created_at_id_idx ON (public\.)?users USING btree \(created_at, id\)$/),
  ]);
});

it("stops on a users_created_at_id_idx of another definition, naming it", async () => {
  const handle = await databaseBefore(MIGRATION);
  await handle.db.execute(sql`CREATE INDEX users_created_at_id_idx ON users (created_at)`);
  await expect(handle.migrate()).rejects.toThrow(/users_created_at_id_idx is not \(created_at, id\)/);
});

it("stops on an invalid users_created_at_id_idx (a concurrent build that failed or still runs)", async () => {
  const handle = await databaseBefore(MIGRATION);
  await handle.db.execute(sql`CREATE INDEX users_created_at_id_idx ON users (created_at, id)`);
  // What a failed CREATE INDEX CONCURRENTLY leaves behind.
  await handle.db.execute(
    sql`UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'users_created_at_id_idx'::regclass`,
  );
  await expect(handle.migrate()).rejects.toThrow(/users_created_at_id_idx is invalid/);
});
