import { sql } from "drizzle-orm";
import { expect, it } from "vitest";
import { rowsOf } from "../src/client.ts";
import { createRefundStore } from "../src/refund-store.ts";
import { testDb } from "./setup.ts";

// Reconciliation's daily look for refunds left processing (RefundStore.listUnanswered: sent
// before a time, oldest first, a page a run) reads a partial index over the processing rows in
// that order (migration 0033), so it costs the few refunds in flight, not every refund ever made.
const { db } = testDb;

it("refunds left processing are listed oldest first from a partial index", async () => {
  const plan = await db.transaction(async (tx) => {
    await tx.execute(sql`SET LOCAL enable_seqscan = off`);
    const rows = rowsOf<{ "QUERY PLAN": string }>(
      await tx.execute(sql`
        EXPLAIN SELECT id FROM payment_refunds
         WHERE status = 'processing' AND coalesce(decided_at, created_at) <= now()
         ORDER BY coalesce(decided_at, created_at), id LIMIT 100`),
    );
    return rows.map((r) => r["QUERY PLAN"]).join("\n");
  });
  expect(plan).toMatch(/payment_refunds_processing_idx/);
  expect(plan).not.toMatch(/Sort/);
  // The store's own query is that one: it still answers (no row is in flight here).
  const listed = await createRefundStore(db).listUnanswered({ sentBefore: new Date(0), limit: 100 });
  expect(listed).toEqual([]);
});
