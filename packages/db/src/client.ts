import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { lockDataDir } from "./data-dir-lock.ts";
import { migrationFiles, verifyAppliedMigrations } from "./migration-integrity.ts";
import * as schema from "./schema.ts";

export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface DatabaseHandle {
  db: Database;
  driver: "postgres" | "pglite";
  // Runs pending migrations. On PostgreSQL an advisory lock serializes instances starting together.
  migrate(): Promise<void>;
  // Resolves when the database answers a trivial query.
  ping(): Promise<void>;
  // True when every migration of drizzle/meta/_journal.json is recorded in
  // drizzle.__drizzle_migrations (readiness: a server on an older schema is not ready).
  migrationsApplied(): Promise<boolean>;
  // The pool's configured size and the queries (or transactions) holding or waiting for a
  // connection right now; postgres.js exposes neither, so this handle counts them itself.
  poolStats(): { max: number; inFlight: number };
  // LISTEN on a channel: `onPayload` gets each NOTIFY's payload, as committed by any instance.
  // PostgreSQL: one dedicated connection (re-established by postgres.js after a drop), so not
  // through a transaction-mode pooler. PGlite: its own in-process notifications. Resolves to unlisten.
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  // postgres://… for PostgreSQL; otherwise embedded PGlite.
  url?: string | undefined;
  // PGlite data directory; "memory://" keeps it in memory.
  dataDir?: string;
  // PGlite only: start from this dumped data directory (PGlite's dumpDataDir) instead of initdb.
  loadDataDir?: Blob | undefined;
  poolMax?: number;
}

const migrationsFolder = fileURLToPath(new URL("../../../drizzle", import.meta.url));
// Any constant works; it only has to be the same in every instance.
const MIGRATION_LOCK_ID = 7_341_022;

export function createDatabase(options: DatabaseOptions): DatabaseHandle {
  return options.url
    ? postgresHandle(options.url, options.poolMax ?? 10)
    : pgliteHandle(options.dataDir ?? "./.data", options.loadDataDir);
}

function postgresHandle(url: string, poolMax: number): DatabaseHandle {
  const client = preparing(postgres(url, { max: poolMax, onnotice: () => {} }));
  const inFlight = { count: 0 };
  const db = drizzlePostgres(counted(client, inFlight, ["unsafe", "begin"]), { schema }) as unknown as Database;
  return {
    db,
    driver: "postgres",
    migrationsApplied: () => migrationsApplied(db),
    poolStats: () => ({ max: poolMax, inFlight: inFlight.count }),
    async migrate() {
      // Its own single connection: a session-level advisory lock belongs to one connection.
      const lockClient = postgres(url, { max: 1, onnotice: () => {} });
      try {
        await lockClient`SELECT pg_advisory_lock(${MIGRATION_LOCK_ID})`;
        const locked = drizzlePostgres(lockClient) as unknown as Database;
        await verifyAppliedMigrations(locked, migrationFiles(migrationsFolder)).catch(ignoreUnmigrated);
        await migratePostgres(drizzlePostgres(lockClient), { migrationsFolder });
        await lockClient`SELECT pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
      } finally {
        await lockClient.end();
      }
    },
    ping: async () => {
      await client`SELECT 1`;
    },
    listen: async (channel, onPayload) => {
      const { unlisten } = await client.listen(channel, onPayload);
      return unlisten;
    },
    close: () => client.end({ timeout: 5 }),
  };
}

function pgliteHandle(dataDir: string, loadDataDir: Blob | undefined): DatabaseHandle {
  const inMemory = dataDir.startsWith("memory://");
  if (!inMemory) mkdirSync(dataDir, { recursive: true });
  const unlock = inMemory ? () => {} : lockDataDir(dataDir);
  // pg_trgm: the admin user search index (migration 0015).
  const client = new PGlite({ dataDir, loadDataDir, extensions: { pg_trgm } });
  const inFlight = { count: 0 };
  const db = drizzlePglite(counted(client, inFlight, ["query", "transaction"]), { schema });
  return {
    db: db as unknown as Database,
    driver: "pglite",
    migrationsApplied: () => migrationsApplied(db as unknown as Database),
    // One connection: everything else waits for it.
    poolStats: () => ({ max: 1, inFlight: inFlight.count }),
    // PGlite is one process's embedded database: there is no second instance to race with.
    migrate: async () => {
      await verifyAppliedMigrations(db as unknown as Database, migrationFiles(migrationsFolder)).catch(
        ignoreUnmigrated,
      );
      await migratePglite(db, { migrationsFolder });
    },
    ping: async () => {
      await client.query("SELECT 1");
    },
    listen: (channel, onPayload) => client.listen(channel, onPayload),
    close: async () => {
      await client.close();
      unlock();
    },
  };
}

// The journal drizzle-kit writes beside the migrations: one entry per migration, `when` being
// the value the migrator records as created_at.
let journal: number[] | undefined;
function journalTimestamps(): number[] {
  journal ??= migrationFiles(migrationsFolder).map((file) => file.when);
  return journal;
}

// Before the first migration there is no migrations table (42P01) and nothing to verify.
function ignoreUnmigrated(error: unknown): void {
  if (isUndefinedTable(error)) return;
  throw error;
}

function isUndefinedTable(error: unknown): boolean {
  const { code, cause } = error as { code?: string; cause?: { code?: string } };
  return code === "42P01" || cause?.code === "42P01";
}

async function migrationsApplied(db: Database): Promise<boolean> {
  const result = await db.execute(sql`SELECT created_at FROM drizzle.__drizzle_migrations`).catch((error: unknown) => {
    // No migrations table yet: nothing is applied. Anything else is the database's problem to
    // report (readiness treats a throw as not ready too).
    if (isUndefinedTable(error)) return [];
    throw error;
  });
  const applied = new Set(rowsOf<{ created_at: string | number }>(result).map((row) => Number(row.created_at)));
  return journalTimestamps().every((when) => applied.has(when));
}

// Counts the calls of the given promise-returning methods until they settle: for the query
// methods drizzle uses (postgres.js: unsafe, begin; PGlite: query, transaction), the number of
// statements and transactions holding or waiting for a connection. postgres.js queries are lazy
// thenables, executed when awaited; the count hooks their settle callbacks, not `then`, so it
// never triggers one early.
// drizzle runs every query through postgres.js `unsafe(text, params, { prepare: false })`. An
// unnamed statement with parameters makes postgres.js ask the server to describe it first and only
// then bind and execute it: two round trips and a parse on every query (pnpm bench: a spend took
// twice the database time of the same statement prepared). Prepared, postgres.js describes a
// statement once per connection and then sends only Bind/Execute. Applies to the queries of
// transactions too. (Behind a transaction-mode pooler that cannot keep prepared statements, this
// would have to go.)
function preparing<T extends object>(sql: T): T {
  return new Proxy(sql, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      if (property === "unsafe") {
        return (text: string, params?: unknown[], options?: Record<string, unknown>) =>
          Array.isArray(params) && params.length > 0
            ? value.call(target, text, params, { ...options, prepare: true })
            : value.call(target, text, params, options);
      }
      if (property === "begin" || property === "savepoint") {
        return (...args: unknown[]) => {
          const last = args.length - 1;
          const work = args[last];
          if (typeof work === "function") args[last] = (tx: object) => work(preparing(tx));
          return value.apply(target, args);
        };
      }
      return value.bind(target);
    },
  });
}

function counted<T extends object>(client: T, inFlight: { count: number }, methods: string[]): T {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      if (typeof property !== "string" || !methods.includes(property)) return value.bind(target);
      let wrapper = wrapped.get(property);
      if (!wrapper) {
        wrapper = (...args: unknown[]) => {
          const result = value.apply(target, args);
          inFlight.count += 1;
          let settled = false;
          const done = () => {
            if (!settled) inFlight.count -= 1;
            settled = true;
          };
          const query = result as { resolve?: (value: unknown) => void; reject?: (error: unknown) => void };
          if (typeof query.resolve === "function" && typeof query.reject === "function") {
            const { resolve, reject } = query;
            query.resolve = (settledValue) => {
              done();
              resolve(settledValue);
            };
            query.reject = (error) => {
              done();
              reject(error);
            };
            return result;
          }
          return Promise.resolve(result).finally(done);
        };
        wrapped.set(property, wrapper);
      }
      return wrapper;
    },
  });
}

// Normalizes a raw `db.execute` result: postgres.js gives an array, PGlite `{ rows }`.
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}
