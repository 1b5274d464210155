import type { TouchedUsers } from "@credits/core";
import { sql } from "drizzle-orm";
import { beforeAll, expect, it } from "vitest";
import { rowsOf } from "../src/client.ts";
import { invariantCheckStatement, ledgerWatermark } from "../src/invariant-check.ts";
import { testDb } from "./setup.ts";

// The daily ledger check's cost follows the users who posted, not the ledger or the user count
// (issue 17, ADR 024): its per-user reads are index lookups, never a scan of users, credit_grants
// or the ledger, and each user's anchor (the last row before the checkpoint) is read from the
// index alone. As plain joins, with the scope estimated at 200 users, the planner hashed whole
// scans of users and credit_grants once the tables outgrew a few pages: 3,000 users are enough.
const { db } = testDb;
const USERS = 3_000;

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];

// Rows inserted as they are, not through the posting function (only the plan is looked at, the
// check is not run): `count` spends for each of the first `users` users, each taken from the
// user's grant (one allocation a spend, as the posting function writes them).
const append = (users: number, count: number) =>
  db.execute(sql`
    WITH spent AS (
      INSERT INTO credit_transactions (user_id, amount, balance_after, kind, idempotency_key)
      SELECT u.id, -1, 100 - g, 'spend', gen_random_uuid()::text
        FROM (SELECT id FROM users ORDER BY email LIMIT ${users}) u, generate_series(1, ${count}) AS g
      RETURNING id, user_id, amount)
    INSERT INTO ledger_allocations (entry_id, grant_id, amount)
    SELECT s.id, g.id, s.amount FROM spent s JOIN credit_grants g ON g.user_id = s.user_id`);

// A grant each, a history of five rows a user, then a day on which a tenth of the users spent.
let touched: TouchedUsers;
beforeAll(async () => {
  await db.execute(sql`
    INSERT INTO users (email) SELECT 'plan-' || lpad(i::text, 5, '0') || '@example.test'
      FROM generate_series(1, ${USERS}) AS i`);
  await db.execute(sql`
    WITH entry AS (
      INSERT INTO credit_transactions (user_id, amount, balance_after, kind, idempotency_key)
      SELECT id, 100, 100, 'grant', gen_random_uuid()::text FROM users RETURNING id, seq, user_id, amount)
    INSERT INTO credit_grants (user_id, category, priority, amount, remaining, source, entry_id, entry_seq)
    SELECT user_id, 'promotional', 50, amount, amount, 'api', id, seq FROM entry`);
  await append(USERS, 5);
  const { seq: afterSeq } = await ledgerWatermark(db);
  await append(USERS / 10, 1);
  const { seq: upToSeq } = await ledgerWatermark(db);
  touched = { afterSeq, upToSeq };
  // What autovacuum keeps (migration 0041): the visibility map set, the statistics current.
  await db.execute(sql`VACUUM (ANALYZE) credit_transactions, users, credit_grants, ledger_allocations`);
});

// The scheduled run flags what it finds (the statement then also writes ledger_flagged_users):
// both forms are planned.
it.for([false, true])(
  "the daily pass reads each user in scope by index, the anchor index-only (flagging: %s)",
  async (flag) => {
    const [row] = rowsOf<{ "QUERY PLAN": unknown }>(
      await db.execute(sql`EXPLAIN (FORMAT JSON) ${invariantCheckStatement(100, touched, flag)}`),
    );
    const explained = typeof row?.["QUERY PLAN"] === "string" ? JSON.parse(row["QUERY PLAN"]) : row?.["QUERY PLAN"];
    const nodes = nodesOf((explained as [{ Plan: PlanNode }])[0].Plan);
    const scanned = (table: string) =>
      nodes.filter((node) => node["Relation Name"] === table).map((node) => node["Node Type"]);

    expect(scanned("users")).not.toContain("Seq Scan");
    expect(scanned("credit_grants")).not.toContain("Seq Scan");
    expect(scanned("credit_transactions")).not.toContain("Seq Scan");
    expect(scanned("ledger_allocations")).not.toContain("Seq Scan");
    expect(nodes).toContainEqual(
      expect.objectContaining({ "Node Type": "Index Only Scan", "Index Name": "credit_transactions_user_seq_idx" }),
    );
  },
);
