import { createDatabase, type DatabaseHandle, seedDefaults } from "@credits/db";
import { env } from "@credits/env";

// The scripts' database: the same one the server uses (DATABASE_URL, or PGlite under DATA_DIR),
// migrated and seeded, so a command works on a fresh machine before the server ever ran.
export async function openDatabase(): Promise<DatabaseHandle> {
  const database = createDatabase({
    url: env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    poolMax: 2,
    prepare: env.DATABASE_PREPARE,
  });
  await database.migrate();
  await seedDefaults(database.db);
  return database;
}
