import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import * as schema from "./schema.ts";

export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface DatabaseHandle {
  db: Database;
  driver: "postgres" | "pglite";
  // Runs pending migrations. On PostgreSQL an advisory lock serializes instances starting together.
  migrate(): Promise<void>;
  // Resolves when the database answers a trivial query.
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  // postgres://… for PostgreSQL; otherwise embedded PGlite.
  url?: string | undefined;
  // PGlite data directory; "memory://" keeps it in memory.
  dataDir?: string;
  poolMax?: number;
}

const migrationsFolder = fileURLToPath(new URL("../../../drizzle", import.meta.url));
// Any constant works; it only has to be the same in every instance.
const MIGRATION_LOCK_ID = 7_341_022;

export function createDatabase(options: DatabaseOptions): DatabaseHandle {
  return options.url ? postgresHandle(options.url, options.poolMax ?? 10) : pgliteHandle(options.dataDir ?? "./.data");
}

function postgresHandle(url: string, poolMax: number): DatabaseHandle {
  const client = postgres(url, { max: poolMax, onnotice: () => {} });
  return {
    db: drizzlePostgres(client, { schema }) as unknown as Database,
    driver: "postgres",
    async migrate() {
      // Its own single connection: a session-level advisory lock belongs to one connection.
      const lockClient = postgres(url, { max: 1, onnotice: () => {} });
      try {
        await lockClient`SELECT pg_advisory_lock(${MIGRATION_LOCK_ID})`;
        await migratePostgres(drizzlePostgres(lockClient), { migrationsFolder });
        await lockClient`SELECT pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
      } finally {
        await lockClient.end();
      }
    },
    ping: async () => {
      await client`SELECT 1`;
    },
    close: () => client.end({ timeout: 5 }),
  };
}

function pgliteHandle(dataDir: string): DatabaseHandle {
  if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true });
  const client = new PGlite(dataDir);
  const db = drizzlePglite(client, { schema });
  return {
    db: db as unknown as Database,
    driver: "pglite",
    // PGlite is one process's embedded database: there is no second instance to race with.
    migrate: () => migratePglite(db, { migrationsFolder }),
    ping: async () => {
      await client.query("SELECT 1");
    },
    close: () => client.close(),
  };
}

// Normalizes a raw `db.execute` result: postgres.js gives an array, PGlite `{ rows }`.
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}
