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
import postgres, { type Sql, type TransactionSql } from "postgres";
import { lockDataDir } from "./data-dir-lock.ts";
import { migrationFiles, verifyAppliedMigrations } from "./migration-integrity.ts";
import * as schema from "./schema.ts";

export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface DatabaseHandle {
  db: Database;
  // Reads that tolerate staleness (admin lists and stats, the audit log, the export): a streaming replica when one is configured, otherwise `db` itself. Nothing read here
  // may decide a write, and nothing just written is guaranteed to be here yet.
  readDb: Database;
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
  close(): Promise<void>;
}

export interface DatabaseOptions {
  // postgres://… for PostgreSQL; otherwise embedded PGlite.
  url?: string | undefined;
  // PGlite data directory; "memory://" keeps it in memory.
  dataDir?: string;
  // PGlite only: start from this dumped data directory (PGlite's dumpDataDir) instead of initdb.
  loadDataDir?: Blob | undefined;
  // PGlite only: an instance already open, used instead of opening `dataDir`; the handle's close()
  // calls its close(). The tests lend one per worker this way (testing-shared-pglite.ts).
  pglite?: PGlite | undefined;
  poolMax?: number;
  // PostgreSQL only: named prepared statements (false behind a pooler that cannot keep them).
  prepare?: boolean;
  // PostgreSQL only: a streaming replica, for `readDb`.
  readUrl?: string | undefined;
}

const migrationsFolder = fileURLToPath(new URL("../../../drizzle", import.meta.url));
// Any constant works; it only has to be the same in every instance.
const MIGRATION_LOCK_ID = 7_341_022;

export function createDatabase(options: DatabaseOptions): DatabaseHandle {
  return options.url
    ? postgresHandle(options.url, {
        poolMax: options.poolMax ?? 10,
        prepare: options.prepare ?? true,
        readUrl: options.readUrl,
      })
    : options.pglite
      ? pgliteHandle(options.pglite, () => {})
      : openPgliteHandle(options.dataDir ?? "./.data", options.loadDataDir);
}

interface PostgresSettings {
  poolMax: number;
  prepare: boolean;
  readUrl: string | undefined;
}

function postgresHandle(url: string, settings: PostgresSettings): DatabaseHandle {
  const { poolMax, prepare } = settings;
  const connect = (to: string, max: number) => {
    const sql = postgres(to, { max, prepare, onnotice: () => {} });
    return prepare ? preparing(sql) : sql;
  };
  const client = connect(url, poolMax);
  const inFlight = { count: 0 };
  const db = drizzlePostgres(counted(client, inFlight, ["unsafe", "begin"]), { schema }) as unknown as Database;
  const reader = settings.readUrl ? connect(settings.readUrl, poolMax) : null;
  return {
    db,
    readDb: reader ? (drizzlePostgres(reader, { schema }) as unknown as Database) : db,
    driver: "postgres",
    migrationsApplied: () => migrationsApplied(db),
    poolStats: () => ({ max: poolMax, inFlight: inFlight.count }),
    // One transaction holding a transaction-scoped advisory lock: instances starting together
    // take turns, and the lock cannot outlive the run on a pooled server connection (a session
    // lock taken through a transaction-mode pooler stays on whichever server connection it ran).
    async migrate() {
      await client.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`;
        const locked = drizzlePostgres(beginAsSavepoint(tx, client.options));
        // In a savepoint: before the first migration the check fails on the missing table, which
        // would otherwise abort the whole transaction.
        await locked
          .transaction((check) =>
            verifyAppliedMigrations(check as unknown as Database, migrationFiles(migrationsFolder)),
          )
          .catch(ignoreUnmigrated);
        await migratePostgres(locked, { migrationsFolder });
      });
    },
    ping: async () => {
      await client`SELECT 1`;
    },
    close: async () => {
      await Promise.all([client.end({ timeout: 5 }), reader?.end({ timeout: 5 })]);
    },
  };
}

function openPgliteHandle(dataDir: string, loadDataDir: Blob | undefined): DatabaseHandle {
  const inMemory = dataDir.startsWith("memory://");
  if (!inMemory) mkdirSync(dataDir, { recursive: true });
  const unlock = inMemory ? () => {} : lockDataDir(dataDir);
  return pgliteHandle(openPglite(dataDir, loadDataDir), unlock);
}

export function openPglite(dataDir: string, loadDataDir?: Blob): PGlite {
  // pg_trgm: the admin user search index (migration 0015).
  return new PGlite({ dataDir, loadDataDir, extensions: { pg_trgm } });
}

function pgliteHandle(client: PGlite, unlock: () => void): DatabaseHandle {
  const inFlight = { count: 0 };
  const db = drizzlePglite(counted(client, inFlight, ["query", "transaction"]), { schema });
  return {
    db: db as unknown as Database,
    readDb: db as unknown as Database,
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

// drizzle's migrator opens a transaction of its own with `begin`, which a transaction's handle
// lacks: inside the migration's transaction, that one becomes a savepoint. (drizzle also reads the
// client's options, which only the pool's handle carries.)
function beginAsSavepoint(tx: TransactionSql, options: Sql["options"]): Sql {
  return new Proxy(tx, {
    get(target, property, receiver) {
      if (property === "begin") return (...args: unknown[]) => target.savepoint(args.at(-1) as never);
      if (property === "options") return options;
      return Reflect.get(target, property, receiver);
    },
  }) as unknown as Sql;
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
// transactions too. Behind a transaction-mode pooler that cannot keep prepared statements
// (DATABASE_PREPARE=false), it is not applied.
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
