// The worker's shared PGlite (testing-shared-pglite.ts): what one test file leaves must be gone for
// the next. A "file" here is one lease (lendSharedPglite … close()), as setup.ts takes one per file.
// Each test dirties the instance, ends its lease and takes the next, then compares what the next
// one sees with a PGlite newly loaded from the image. PGlite only: on PostgreSQL each file has a
// database of its own.
import { openAsBlob } from "node:fs";
import type { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, openPglite } from "../src/client.ts";
import { PGLITE_IMAGE_ENV, plantLedgerBreak } from "../src/testing.ts";
import { lendSharedPglite, sharedPgliteCounts } from "../src/testing-shared-pglite.ts";

const image = process.env[PGLITE_IMAGE_ENV];

// What a test file could observe of the database, as comparable values.
async function observed(client: PGlite) {
  const one = async <T>(query: string) => (await client.query<T>(query)).rows;
  const tables = await one<{ name: string }>(`
    SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
     WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`);
  const rows: Record<string, string[]> = {};
  for (const { name } of tables) {
    rows[name] = (await one<{ row: string }>(`SELECT t::text AS row FROM ${name} t ORDER BY 1`)).map((r) => r.row);
  }
  const sequences: Record<string, unknown> = {};
  for (const { name } of await one<{ name: string }>(
    `SELECT format('%I.%I', schemaname, sequencename) AS name FROM pg_sequences ORDER BY 1`,
  )) {
    sequences[name] = (await one(`SELECT last_value, is_called FROM ${name}`))[0];
  }
  return {
    rows,
    sequences,
    settings: await one("SELECT name, setting FROM pg_settings WHERE source <> 'default' ORDER BY 1"),
    inTransaction: client.isInTransaction(),
    user: await one("SELECT current_user, session_user"),
    prepared: await one("SELECT name FROM pg_prepared_statements"),
    temporary: await one("SELECT relname FROM pg_class WHERE relpersistence = 't'"),
    locks: await one("SELECT objid FROM pg_locks WHERE locktype = 'advisory'"),
    listening: await one("SELECT pg_listening_channels()"),
    triggers: await one(`SELECT tgname, tgenabled FROM pg_trigger ORDER BY 1`),
  };
}

describe.skipIf(!image)("the shared PGlite, lent to one file after another", () => {
  let fresh: PGlite;
  let expected: Awaited<ReturnType<typeof observed>>;
  beforeAll(async () => {
    fresh = openPglite("memory://", await openAsBlob(image as string));
    expected = await observed(fresh);
  });
  afterAll(() => fresh.close());

  const lend = () => lendSharedPglite(image as string);

  it("is reset to the image: rows (seeded and not), sequences, session, an open transaction, listeners", async () => {
    const first = await lend();
    const { db } = createDatabase({ pglite: first });
    // Unseeded tables, the append-only ledger among them (its triggers refuse TRUNCATE).
    await plantLedgerBreak(db);
    // Seeded tables: drizzle's migrations, the rows migrations insert.
    await first.exec(`
      DELETE FROM drizzle.__drizzle_migrations WHERE id = (SELECT max(id) FROM drizzle.__drizzle_migrations);
      UPDATE rate_limit_secret SET secret = 'changed', created_at = now();
      DELETE FROM alert_defaults;
      SELECT nextval('outbox_events_seq_seq'), setval('webhook_attempts_id_seq', 40, false);
      SET work_mem = '7MB';
      SET search_path = drizzle;
      PREPARE left_behind AS SELECT 1;
      CREATE TEMP TABLE left_behind (id int);
      SELECT pg_advisory_lock(42);`);
    const heard: string[] = [];
    await first.listen("left_behind", (payload) => heard.push(payload));
    await first.exec("BEGIN; INSERT INTO public.users (email) VALUES ('open@example.test')");
    const before = sharedPgliteCounts();
    const { reused, loaded } = { ...before };
    await first.close();

    const next = await lend();
    try {
      expect(sharedPgliteCounts()).toMatchObject({ reused: reused + 1, loaded });
      expect(await observed(next)).toEqual(expected);
      await next.exec("NOTIFY left_behind, 'for the next file'");
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(heard).toEqual([]);
      // The next file listening on the same channel hears its notification, and the earlier
      // file's callback does not.
      const nextHeard: string[] = [];
      await next.listen("left_behind", (payload) => nextHeard.push(payload));
      await next.exec("NOTIFY left_behind, 'heard'");
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(nextHeard).toEqual(["heard"]);
      expect(heard).toEqual([]);
    } finally {
      await next.close();
    }
  });

  // What the reset does not undo: a change to the catalog, or the planner's statistics. The guard
  // sees it, and the next file gets a new instance.
  it.for([
    ["triggers", "ALTER TABLE credit_transactions DISABLE TRIGGER credit_transactions_append_only"],
    [
      "functions",
      "CREATE OR REPLACE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN OLD; END'",
    ],
    ["indexes", "CREATE INDEX left_behind ON users (created_at)"],
    [
      "statistics",
      "INSERT INTO users (email) SELECT i || '@example.test' FROM generate_series(1, 50) i; ANALYZE users",
    ],
    ["settings", "ALTER DATABASE postgres SET work_mem = '7MB'"],
    ["roles", "CREATE ROLE left_behind"],
    ["comments", "COMMENT ON TABLE users IS 'left behind'"],
  ])("a change of %s gets the next file a new instance", async ([kind, statement]) => {
    const first = await lend();
    await first.exec(statement as string);
    const { loaded, replaced } = sharedPgliteCounts();
    const count = replaced.length;
    await first.close();

    const next = await lend();
    try {
      expect(sharedPgliteCounts()).toMatchObject({ loaded: loaded + 1 });
      expect(sharedPgliteCounts().replaced.slice(count)).toEqual([
        expect.stringMatching(new RegExp(`differs from the image in: .*${kind}`)),
      ]);
      expect(await observed(next)).toEqual(expected);
    } finally {
      await next.close();
    }
  });

  it("a callback a transaction's listen() registered does not hear the next file", async () => {
    const first = await lend();
    const heard: string[] = [];
    await first.transaction(async (tx) => {
      await tx.listen("left_behind", (payload) => heard.push(payload));
    });
    await first.close();

    const next = await lend();
    try {
      await next.listen("left_behind", () => {});
      await next.exec("NOTIFY left_behind, 'for the next file'");
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(heard).toEqual([]);
    } finally {
      await next.close();
    }
  });

  it("a file that did not close its database gets the next one a new instance", async () => {
    const first = await lend();
    await first.exec("INSERT INTO users (email) VALUES ('unclosed@example.test')");
    const { loaded } = sharedPgliteCounts();

    const next = await lend();
    try {
      expect(sharedPgliteCounts().loaded).toBe(loaded + 1);
      expect(sharedPgliteCounts().replaced.at(-1)).toBe("the previous file did not close its database");
      expect(await observed(next)).toEqual(expected);
    } finally {
      await next.close();
    }
    await first.close();
  });

  it("a closed lease refuses as a closed PGlite does: nothing reaches the next file's database", async () => {
    const first = await lend();
    await first.close();
    await expect(first.query("INSERT INTO users (email) VALUES ('late@example.test')")).rejects.toThrow(
      "PGlite is closed",
    );
    expect(first.closed).toBe(true);
    const next = await lend();
    try {
      expect(next.closed).toBe(false);
      expect((await next.query("SELECT count(*)::int AS n FROM users")).rows).toEqual([{ n: 0 }]);
    } finally {
      await next.close();
    }
  });
});
