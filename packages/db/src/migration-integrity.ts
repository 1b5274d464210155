import { readFileSync } from "node:fs";
import { sql } from "drizzle-orm";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { type Database, rowsOf } from "./client.ts";

// Hashes an applied migration may carry besides its file's own. 0003 was edited once after it
// had been applied, before this check existed; migration 0006 re-creates the function that edit
// changed, so a database that ran the first version converges, and that version stays accepted.
// 0038 and 0042 were each released in two texts (stops 27 and 28): 0038 with the batch's locks
// taken first (ACCESS EXCLUSIVE, retried) or with SHARE on payments only, 0042 with one comment
// worded otherwise. Both texts of each create the same objects (only how 0038 locks while it runs
// differs), so nothing needs to converge: databases that ran either version are accepted.
const SUPERSEDED_HASHES: Readonly<Record<string, readonly string[]>> = {
  "0003_ledger_batch_posting": ["cb15ecb5539a3af548599d4cb866d439f9dd8aac503aa608862d20a02de205fb"],
  "0038_promo15_revenue_net_of_tax_disputes": ["65bb693fd5e521c141f14cf0a4e7acf6b84b3e85d0b087bd5c199c9ac06c6136"],
  "0042_erase19_erasure_tasks": ["8720d66371c251cccae9350dbfe353734aa6173c624278811eddffbcdb4ba416"],
};

export interface MigrationFile {
  tag: string;
  // What drizzle's migrator records as created_at, and the SHA-256 of the file it records as hash.
  when: number;
  hash: string;
}

// The migrations of the folder, in order, as drizzle's migrator reads and hashes them.
export function migrationFiles(migrationsFolder: string): MigrationFile[] {
  const journal = JSON.parse(readFileSync(`${migrationsFolder}/meta/_journal.json`, "utf8")) as {
    entries: { tag: string; when: number }[];
  };
  const files = readMigrationFiles({ migrationsFolder });
  return journal.entries.map((entry, index) => ({
    tag: entry.tag,
    when: entry.when,
    hash: files[index]?.hash ?? "",
  }));
}

export class ChangedMigrationError extends Error {
  constructor(tag: string) {
    super(
      `drizzle/${tag}.sql was changed after this database applied it: an applied migration is never edited; ` +
        "restore the file and put the change in a new migration",
    );
    this.name = "ChangedMigrationError";
  }
}

// Every migration the database has applied must still be the file it ran. A migration the code
// does not know (a newer version ran on this database) is left alone.
export async function verifyAppliedMigrations(db: Database, files: readonly MigrationFile[]): Promise<void> {
  const result = await db.execute(sql`SELECT hash, created_at FROM drizzle.__drizzle_migrations`);
  const applied = rowsOf<{ hash: string; created_at: string | number }>(result);
  for (const row of applied) {
    const file = files.find((candidate) => candidate.when === Number(row.created_at));
    if (!file || row.hash === file.hash) continue;
    if (SUPERSEDED_HASHES[file.tag]?.includes(row.hash)) continue;
    throw new ChangedMigrationError(file.tag);
  }
}
