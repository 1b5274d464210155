// PostgreSQL only (PGlite has one connection): an erasure that holds its user's row lock while a
// webhook credits that user's payment is seen by the credit once it commits. The fulfil path
// reads whether its user is erased after its ledger row took the user's row lock (and that read
// takes a key-share lock itself), so it waits for the erasure, then files the full refund (ADR
// 025). A read before the lock would find the user living and keep the money.
import { createDatabase, rowsOf } from "@credits/db";
import { paymentRefunds } from "@credits/db/schema";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { testDb } from "../harness.ts";
import {
  balanceOf,
  charge,
  db,
  deliver,
  purchaseEvents,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);

describe.skipIf(!testDb.url)("an erasure committing while a webhook credits (PostgreSQL)", () => {
  it("the credit waits for the erasure's row lock, then files the erasure refund", async () => {
    const purchase = await startPurchase(server, "starter");
    mock.updateSession(purchase.sessionId, { status: "complete", payment_status: "paid" });
    mock.addCharge(
      charge({ id: purchase.chargeId, amount: purchase.amountMinor, payment_intent: purchase.paymentIntent }),
    );
    const other = createDatabase({ url: String(testDb.url), poolMax: 1 });
    let commit = () => {};
    const committed = new Promise<void>((resolve) => {
      commit = resolve;
    });
    let pid = 0;
    // As the erasure's transaction does: the user's row locked FOR UPDATE, then marked erased;
    // committed only once the webhook waits on it.
    const erasure = other.db.transaction(async (tx) => {
      pid = Number(rowsOf<{ pid: number }>(await tx.execute(sql`SELECT pg_backend_pid() AS pid`))[0]?.pid);
      await tx.execute(sql`SELECT id FROM users WHERE id = ${purchase.userId} FOR UPDATE`);
      await tx.execute(sql`UPDATE users SET erased_at = now() WHERE id = ${purchase.userId}`);
      await committed;
    });
    try {
      await expect.poll(() => pid, { timeout: 10_000 }).toBeGreaterThan(0);
      const delivered = deliver(server.url, purchaseEvents(mock, purchase).completed());
      await expect
        .poll(
          async () =>
            rowsOf<{ waiting: number }>(
              await db.execute(
                sql`SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE ${pid}::int = ANY(pg_blocking_pids(pid))`,
              ),
            )[0]?.waiting,
          { timeout: 10_000 },
        )
        .toBeGreaterThan(0);
      commit();
      await erasure;
      expect((await delivered).status).toBe(200);
    } finally {
      commit();
      await erasure.catch(() => {});
      await other.close();
    }
    const refunds = await db.select().from(paymentRefunds).where(eq(paymentRefunds.paymentId, purchase.paymentId));
    expect(refunds).toMatchObject([{ origin: "erasure", status: "processing", amountMinor: purchase.amountMinor }]);
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
  });
});
