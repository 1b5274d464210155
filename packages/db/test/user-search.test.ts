import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createAdminStore, RECENT_USERS_SCANNED, userSearchSteps } from "../src/admin-store.ts";
import { rowsOf } from "../src/client.ts";
import { users } from "../src/schema.ts";
import { testDb } from "./setup.ts";

// Admin user search (migration 0015): a substring through the trigram index, a short query as a
// prefix through the pattern index; LIKE's wildcards and escape in a query match only themselves.
const { db } = testDb;
const admin = createAdminStore(db);
const tag = randomUUID().slice(0, 8);
const emails = [
  `a_b-${tag}@example.test`,
  `axb-${tag}@example.test`,
  `p%q\\r-${tag}@example.test`,
  `zz${tag}@example.test`,
];
await db.insert(users).values(emails.map((email) => ({ email })));
const found = async (query: string) => (await admin.searchUsers(query, 50)).map((u) => u.email).sort();

describe("admin user search", () => {
  it("finds a substring, case-insensitively, and a short query as a prefix", async () => {
    expect(await found(`B-${tag.toUpperCase()}`)).toEqual([`a_b-${tag}@example.test`, `axb-${tag}@example.test`]);
    expect(await found(tag)).toEqual([...emails].sort());
    expect((await found("zz")).filter((e) => e?.includes(tag))).toEqual([`zz${tag}@example.test`]);
    // Two characters are a prefix, not a substring: "b-" starts no email.
    expect(await found("b-")).toEqual([]);
  });

  it("matches LIKE's wildcards and escape as themselves", async () => {
    expect(await found(`a_b-${tag}`)).toEqual([`a_b-${tag}@example.test`]);
    expect(await found(`%q\\r-${tag}`)).toEqual([`p%q\\r-${tag}@example.test`]);
    expect(await found("%")).toEqual([]);
    expect(await found("_")).toEqual([]);
    expect(await found("\\")).toEqual([]);
    expect(await found("%%%")).toEqual([]);
    expect(await found("x".repeat(320))).toEqual([]);
  });

  it("can answer from the indexes, not by reading every user", async () => {
    const plan = async (pattern: string) =>
      db.transaction(async (tx) => {
        await tx.execute(sql`SET LOCAL enable_seqscan = off`);
        const rows = rowsOf<{ "QUERY PLAN": string }>(
          await tx.execute(sql`EXPLAIN SELECT id FROM users WHERE email LIKE ${pattern}`),
        );
        return rows.map((r) => r["QUERY PLAN"]).join("\n");
      });
    expect(await plan(`%b-${tag}%`)).toMatch(/users_email_trgm_idx/);
    expect(await plan("zz%")).toMatch(/users_email_prefix_idx|users_email_trgm_idx/);
  });

  it("reads the newest users from an index, not by sorting every user (migration 0045)", async () => {
    const rows = rowsOf<{ "QUERY PLAN": string }>(
      await db.execute(sql`EXPLAIN SELECT id FROM users ORDER BY created_at DESC, id DESC LIMIT 20`),
    );
    expect(rows.map((r) => r["QUERY PLAN"]).join("\n")).toMatch(/Scan Backward using users_created_at_id_idx/);
  });
});

// The search reads the newest users first and only then the email indexes (ADR 026): either way
// it answers as one filtered, sorted read of every user would, newest first and id breaking ties.
describe("admin user search order", () => {
  const reference = async (fragment: string, limit: number) =>
    rowsOf<{ email: string }>(
      await db.execute(
        sql`SELECT email FROM users WHERE email LIKE ${`%${fragment}%`} ORDER BY created_at DESC, id DESC LIMIT ${limit}`,
      ),
    ).map((row) => row.email);
  const inOrder = async (query: string) => (await admin.searchUsers(query, 20)).map((u) => u.email);

  it("pages matches among the newest users newest first, ties by id", async () => {
    const fresh = randomUUID().slice(0, 8);
    // One statement: every row has the same created_at (now()), so only id orders them.
    await db.execute(sql`
      INSERT INTO users (email) SELECT 'new' || g || '-' || ${fresh} || '@example.test' FROM generate_series(1, 30) AS g`);
    const page = await inOrder(fresh);
    expect(page).toHaveLength(20);
    expect(page).toEqual(await reference(fresh, 20));
  });

  it("finds old matches behind more than RECENT_USERS_SCANNED newer users", async () => {
    const old = randomUUID().slice(0, 8);
    // 25 matches on five days of 2001, five to a day; then more non-matching users, all newer.
    await db.execute(sql`
      INSERT INTO users (email, created_at)
      SELECT 'old' || g || '-' || ${old} || '@example.test', timestamptz '2001-01-01' + (g % 5) * interval '1 day'
        FROM generate_series(1, 25) AS g`);
    await db.execute(sql`
      INSERT INTO users (email, created_at)
      SELECT 'filler' || g || '-' || ${randomUUID()} || '@example.test', timestamptz '2002-01-01' + g * interval '1 second'
        FROM generate_series(1, ${RECENT_USERS_SCANNED + 1}) AS g`);
    const page = await inOrder(old);
    expect(page).toHaveLength(20);
    expect(page).toEqual(await reference(old, 20));
    const [oldest] = rowsOf<{ id: string }>(
      await db.execute(sql`SELECT id FROM users WHERE email = ${`old5-${old}@example.test`}`),
    );
    expect((await admin.searchUsers(oldest?.id ?? "", 20)).map((u) => u.email)).toEqual([`old5-${old}@example.test`]);
  });

  // The server prepares its statements (postgres.js), and PostgreSQL may switch a prepared one to
  // its generic plan (LIKE $1 at a default selectivity): the second step must not walk the
  // newest-first index over every user then. With sorting priced out, any index that serves the
  // step's order would be walked; the ORDER BY expression leaves none (ADR 026).
  it.each([`t1999-${tag}`, "fi", randomUUID()])(
    "plans the second step for %s without the newest-first index",
    async (query) => {
      const { sql: text, params } = userSearchSteps(db, query, 20).all.toSQL();
      const literal = (value: unknown) => (typeof value === "number" ? String(value) : `'${String(value)}'`);
      const plan = await db.transaction(async (tx) => {
        await tx.execute(sql`SET LOCAL plan_cache_mode = force_generic_plan`);
        await tx.execute(sql`SET LOCAL enable_sort = off`);
        await tx.execute(sql.raw(`PREPARE user_search_all AS ${text}`));
        const rows = rowsOf<{ "QUERY PLAN": string }>(
          await tx.execute(sql.raw(`EXPLAIN EXECUTE user_search_all(${params.map(literal).join(", ")})`)),
        );
        await tx.execute(sql`DEALLOCATE user_search_all`);
        return rows.map((r) => r["QUERY PLAN"]).join("\n");
      });
      expect(plan).toMatch(/\$1/);
      expect(plan).not.toMatch(/users_created_at_id_idx/);
    },
  );

  it("treats control characters and an unknown uuid as text that matches nobody", async () => {
    expect(await found("\u0001\u0007")).toEqual([]);
    expect(await found(`${tag}\n`)).toEqual([]);
    expect(await found(randomUUID())).toEqual([]);
  });
});
