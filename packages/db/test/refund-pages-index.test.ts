import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { rowsOf } from "../src/client.ts";
import { testDb } from "./setup.ts";

// The GDPR export pages a user's refunds by (user_id, created_at, id) (gdpr-export-store.ts): an
// index answers it, so a page costs the user's refunds, not everyone's (migration 0029).
const { db } = testDb;

it("a user's refunds page in export order from an index", async () => {
  const plan = await db.transaction(async (tx) => {
    await tx.execute(sql`SET LOCAL enable_seqscan = off`);
    const rows = rowsOf<{ "QUERY PLAN": string }>(
      await tx.execute(sql`
        EXPLAIN SELECT id FROM payment_refunds
         WHERE user_id = ${randomUUID()}::uuid AND (created_at, id) > (now(), ${randomUUID()}::uuid)
         ORDER BY created_at, id LIMIT 500`),
    );
    return rows.map((r) => r["QUERY PLAN"]).join("\n");
  });
  expect(plan).toMatch(/payment_refunds_user_idx/);
  expect(plan).not.toMatch(/Sort/);
});
