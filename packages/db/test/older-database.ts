// A database migrated only up to a given migration: for tests of what a later migration does to
// data written before it. Closed (and dropped, on PostgreSQL) after the file's tests.
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, openAsBlob, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { afterAll } from "vitest";
import { createDatabase, type DatabaseHandle } from "../src/client.ts";
import { PGLITE_EMPTY_IMAGE_ENV, withDatabase } from "../src/testing.ts";
import { onPostgres, testDb } from "./setup.ts";

const drizzleFolder = fileURLToPath(new URL("../../../drizzle", import.meta.url));
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

// A copy of the migrations folder without `tag` and the migrations after it.
function folderBefore(tag: string): string {
  const folder = mkdtempSync(join(tmpdir(), `credits-before-${tag}-`));
  cpSync(drizzleFolder, folder, { recursive: true });
  const journalPath = join(folder, "meta", "_journal.json");
  const journal = JSON.parse(readFileSync(journalPath, "utf8")) as { entries: { tag: string }[] };
  journal.entries = journal.entries.filter((entry) => entry.tag < tag);
  writeFileSync(journalPath, JSON.stringify(journal));
  cleanups.push(async () => rmSync(folder, { recursive: true, force: true }));
  return folder;
}

// A fresh database with every migration before `tag` applied; its `migrate()` applies the rest.
export async function databaseBefore(tag: string): Promise<DatabaseHandle> {
  const migrationsFolder = folderBefore(tag);
  if (!onPostgres || !testDb.url) {
    // initdb's cluster, dumped once per run (the run's image, when there is one), not made again.
    const empty = process.env[PGLITE_EMPTY_IMAGE_ENV];
    const handle = createDatabase({ dataDir: "memory://", loadDataDir: empty ? await openAsBlob(empty) : undefined });
    cleanups.push(() => handle.close());
    // biome-ignore lint/suspicious/noExplicitAny: drizzle's PGlite migrator wants its own driver type
    await migratePglite(handle.db as any, { migrationsFolder });
    return handle;
  }
  const name = `credits_before_${randomBytes(6).toString("hex")}`;
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
