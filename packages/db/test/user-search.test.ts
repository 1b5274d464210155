import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createAdminStore } from "../src/admin-store.ts";
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
});
