// Expiry settles racing (0050, settleAfterExpiry; review 13 F2). Every server instance runs the
// grant sweep, and a pass reads its notes outside any lock: two passes may settle the same note,
// one after the other (the payment's lock orders them). The settle's ledger keys are named by the
// note, so the second must not settle it again: when more of the payment expired in between (a
// second hold released, a new note), it would want a new give-back under a key already used, and
// the pass failed. Each pass claims the note under the user's lock and skips it when it is gone.
// PostgreSQL only (concurrent connections).
import { randomUUID } from "node:crypto";
import { rowsOf } from "@credits/db";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { expiringCreditsSetting } from "./expired-credits-helpers.ts";
import { db, deliver, insertUser, ledgerOf, onPostgres, purchaseEvents, query, startPurchase } from "./helpers.ts";

const { mock, server, later, buyExpiring, applyLater } = await expiringCreditsSetting();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function twoHolds(label: string) {
  const userId = await insertUser(label);
  const expiring = await buyExpiring(userId);
  const hold = async () =>
    (
      await server.services.credits.hold({
        userId,
        amount: 30,
        idempotencyKey: randomUUID(),
        scope: { kind: "user", id: userId },
        ttlSeconds: 7 * 24 * 3_600,
      })
    ).hold.id;
  const holds: [string, string] = [await hold(), await hold()];
  const other = await startPurchase(server, "standard", userId);
  expect((await deliver(server.url, purchaseEvents(mock, other).completed())).status).toBe(200);
  // After the expiry: refunded in full; 40 expired, 60 held: 60 taken of the other pack.
  expect(await applyLater(purchaseEvents(mock, expiring).refunded(1000))).toBe("processed");
  expect(await later.credits.balance(userId)).toBe(other.credits - 60);
  return { userId, expiring, holds, others: other.credits };
}

// Holds the user's balance row (the lock every posting and the settle take) until `open()`;
// `pid`: the backend holding it.
function lockUser(userId: string) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let locked!: (pid: number) => void;
  const pid = new Promise<number>((resolve) => {
    locked = resolve;
  });
  const done = db.transaction(async (tx) => {
    await tx.execute(sql`SELECT id FROM users WHERE id = ${userId}::uuid FOR NO KEY UPDATE`);
    const [row] = rowsOf<{ pid: number }>(await tx.execute(sql`SELECT pg_backend_pid() AS pid`));
    locked(Number(row?.pid));
    await gate;
  });
  return { pid, open, done };
}

// Waits until `count` backends wait for the backend `pid`, directly or behind another waiter.
async function waitForWaiters(pid: number, count: number) {
  for (let tries = 0; tries < 500; tries++) {
    const [row] = await query<{ n: number }>(`
      WITH RECURSIVE behind(pid) AS (
        SELECT ${pid}
        UNION SELECT a.pid FROM pg_stat_activity a JOIN behind b ON b.pid = ANY (pg_blocking_pids(a.pid)))
      SELECT count(*)::int - 1 AS n FROM behind`);
    if ((row?.n ?? 0) >= count) return;
    await sleep(10);
  }
  throw new Error(`fewer than ${count} backends waited for ${pid}`);
}

const settleAfterExpiry = () =>
  later.payments.settleAfterExpiry((error) => {
    throw error;
  });

describe.runIf(onPostgres)("expiry settles racing", () => {
  it("two passes at once over one note: one give-back, the right balance", async () => {
    const { userId, expiring, holds, others } = await twoHolds("settles-two-passes");
    await later.credits.release(holds[0]);
    await later.credits.release(holds[1]);
    const results = await Promise.allSettled([settleAfterExpiry(), settleAfterExpiry()]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled"]);
    expect(await later.credits.balance(userId)).toBe(others);
    expect(
      (await ledgerOf(expiring.paymentId)).filter((r) => r.kind === "refund_reversal").map((r) => r.amount),
    ).toEqual([60]);
  });

  it("a second pass over a note another pass settled skips it, after more expired meanwhile", async () => {
    const { userId, expiring, holds, others } = await twoHolds("settles-stale-note");
    await later.credits.release(holds[0]); // 30 expire at once: note N1
    expect(
      (
        await query<{ n: number }>(
          `SELECT count(*)::int AS n FROM payment_expiry_settles WHERE payment_id = '${expiring.paymentId}'`,
        )
      )[0]?.n,
    ).toBe(1);

    const blocker = lockUser(userId);
    const blockerPid = await blocker.pid;
    // Instance X: reads [N1], locks the payment, waits for the user. Instance Y: reads [N1], waits
    // for the payment. Then the second hold's release waits for the user too.
    const x = settleAfterExpiry();
    await waitForWaiters(blockerPid, 1);
    const y = settleAfterExpiry();
    await waitForWaiters(blockerPid, 2);
    const release = later.credits.release(holds[1]);
    await waitForWaiters(blockerPid, 3);
    blocker.open();
    await blocker.done;
    const results = await Promise.allSettled([x, y, release]);
    const errors = results.flatMap((r) => (r.status === "rejected" ? [String(r.reason?.message ?? r.reason)] : []));
    // No pass fails (before: Y threw "refund_reversal of 30 failed", its key X's), and the note
    // of the second release gives its 30 back at the next sweep.
    const afterNextSweep = await settleAfterExpiry().then(() => later.credits.balance(userId));
    expect({ errors, afterNextSweep }).toEqual({ errors: [], afterNextSweep: others });
  });
});
