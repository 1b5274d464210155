import { randomUUID } from "node:crypto";
import { type Clock, createCreditService } from "@credits/core";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rowsOf } from "../src/client.ts";
import { createLedgerStore } from "../src/ledger-store.ts";
import { createUser, expectInvariantHolds, TEST_SCOPE } from "./fixtures.ts";
import { testDb } from "./setup.ts";

// grant_restore writes the expiry rows of the grants it gives back to after its passes (0044), in
// the order it first gave to them (the tail of the spending order first), as 0027 did while
// giving: a walk of its jsonb map would take them in uuid order. A release giving back to two
// expired grants shows the order.
const { db } = testDb;
const store = createLedgerStore(db);
let nowMs = Date.parse("2026-06-01T00:00:00Z");
const clock: Clock = { now: () => new Date(nowMs) };
const credits = createCreditService({ store, clock });
const HOUR = 3_600_000;

async function releaseIntoTwoExpiredGrants() {
  nowMs += 10 * HOUR;
  const userId = await createUser(db);
  const expiresAt = new Date(nowMs + HOUR);
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const key = randomUUID();
    await credits.grant({
      scope: TEST_SCOPE,
      userId,
      amount: 5,
      idempotencyKey: key,
      terms: { priority: 50, expiresAt },
    });
    const [row] = rowsOf<{ id: string }>(
      await db.execute(
        sql`SELECT g.id FROM credit_grants g WHERE g.user_id = ${userId} ORDER BY g.entry_seq DESC LIMIT 1`,
      ),
    );
    ids.push(row?.id ?? "");
  }
  const held = await credits.hold({
    scope: TEST_SCOPE,
    userId,
    amount: 10,
    idempotencyKey: randomUUID(),
    ttlSeconds: 7200,
  });
  nowMs = expiresAt.getTime() + 1;
  await credits.release(held.hold.id);
  const expiries = rowsOf<{ grant_id: string; balance_after: string | number }>(
    await db.execute(sql`SELECT a.grant_id, t.balance_after FROM credit_transactions t
                           JOIN ledger_allocations a ON a.entry_id = t.id
                          WHERE t.user_id = ${userId} AND t.kind = 'expiry' ORDER BY t.seq`),
  ).map((r) => [r.grant_id, Number(r.balance_after)]);
  return { ids, expiries };
}

describe("grant_restore's expiry rows", () => {
  it("come in the order the credits were given back (the newer grant first)", async () => {
    for (let i = 0; i < 8; i++) {
      const { ids, expiries } = await releaseIntoTwoExpiredGrants();
      expect(expiries).toEqual([
        [ids[1], 5],
        [ids[0], 0],
      ]);
    }
    await expectInvariantHolds(db);
  });
});

// A sweep's expiry row is keyed by the grant alone ('s:expiry:' || grant, 0007). Rows carry the
// app's clock (posted_at), so with two app hosts a little apart a release stamped just before the
// expiry can give credits back to a grant a sweep already expired: they expire at once (0044);
// left live, the next sweep's expiry reused the key and every later posting of that user failed.
describe("a grant swept, then given credits back by a row stamped before its expiry", () => {
  it("expires again without a key conflict, and the user can still post", async () => {
    nowMs += 10 * HOUR;
    const userId = await createUser(db);
    const expiresAt = new Date(nowMs + HOUR);
    await credits.grant({ scope: TEST_SCOPE, userId, amount: 10, idempotencyKey: randomUUID(), terms: { expiresAt } });
    const held = await credits.hold({
      scope: TEST_SCOPE,
      userId,
      amount: 5,
      idempotencyKey: randomUUID(),
      ttlSeconds: 7200,
    });
    nowMs = expiresAt.getTime() + 100;
    await credits.expireGrants();
    nowMs = expiresAt.getTime() - 100;
    await credits.release(held.hold.id);
    // Another user's grant falls due too: the sweep must still expire it.
    const other = await createUser(db);
    await credits.grant({
      scope: TEST_SCOPE,
      userId: other,
      amount: 4,
      idempotencyKey: randomUUID(),
      terms: { expiresAt },
    });
    nowMs = expiresAt.getTime() + 200;
    await expect(credits.expireGrants()).resolves.toBeGreaterThan(0);
    expect(await credits.balance(other)).toBe(0);
    await credits.grant({ scope: TEST_SCOPE, userId, amount: 3, idempotencyKey: randomUUID(), terms: {} });
    expect(await credits.balance(userId)).toBe(3);
    await expectInvariantHolds(db);
  });
});
