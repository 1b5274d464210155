import { randomUUID } from "node:crypto";
import { type Clock, createCreditService } from "@credits/core";
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { createDatabase, rowsOf } from "../src/client.ts";
import { createLedgerStore } from "../src/ledger-store.ts";
import { createUser, expectInvariantHolds, TEST_SCOPE } from "./fixtures.ts";
import { testDb } from "./setup.ts";

// The expiry sweep racing spends, holds and captures on the same grants, from two instances (two
// connection pools on PostgreSQL; PGlite runs them one after another and proves less). Spenders
// live 1 ms before the grants' expiry, the sweeper at it: every credit ends spent, held or expired,
// never two of them, and each grant's expiry is recorded once.
const { db } = testDb;
const second = testDb.url ? createDatabase({ url: testDb.url, poolMax: 10 }) : testDb;
afterAll(async () => {
  if (second !== testDb) await second.close();
});

const EXPIRES = Date.parse("2026-09-01T00:00:00Z");
const before: Clock = { now: () => new Date(EXPIRES - 1) };
const at: Clock = { now: () => new Date(EXPIRES) };
const setup = createCreditService({
  store: createLedgerStore(db),
  clock: { now: () => new Date(EXPIRES - 3_600_000) },
});
const spender = createCreditService({ store: createLedgerStore(db), clock: before });
const sweeper = createCreditService({ store: createLedgerStore(second.db), clock: at });

describe("expiry racing spends", () => {
  it("sweeps, spends and captures on the same grants: nothing both spent and expired", async () => {
    const users = await Promise.all(Array.from({ length: 8 }, () => createUser(db)));
    for (const userId of users) {
      await setup.grant({
        scope: TEST_SCOPE,
        userId,
        amount: 50,
        idempotencyKey: randomUUID(),
        terms: { expiresAt: new Date(EXPIRES) },
      });
    }
    const holds = await Promise.all(
      users.map((userId) => setup.hold({ scope: TEST_SCOPE, userId, amount: 10, idempotencyKey: randomUUID() })),
    );
    const work = [
      ...users.flatMap((userId) =>
        Array.from({ length: 10 }, () =>
          spender.spend({ scope: TEST_SCOPE, userId, amount: 3, idempotencyKey: randomUUID() }),
        ),
      ),
      ...holds.map(({ hold }) => spender.capture(hold.id, 4)),
      ...Array.from({ length: 6 }, () => sweeper.expireGrants()),
    ];
    await Promise.allSettled(work);
    await sweeper.expireGrants();
    await expectInvariantHolds(db);
    const perGrant = rowsOf<{ amount: number; taken: number; expiries: number; remaining: number }>(
      await db.execute(sql`
        SELECT g.amount::int AS amount, g.remaining::int AS remaining,
               (SELECT -coalesce(sum(a.amount), 0)::int FROM ledger_allocations a WHERE a.grant_id = g.id AND a.amount < 0)
                 AS taken,
               (SELECT count(*)::int FROM credit_transactions t WHERE t.idempotency_key = 's:expiry:' || g.id) AS expiries
          FROM credit_grants g WHERE g.user_id IN (SELECT unnest(${`{${users.join(",")}}`}::uuid[]))`),
    );
    expect(perGrant).toHaveLength(users.length);
    for (const grant of perGrant) {
      // Taken by spends, the hold (6 of its 10 came back at the capture, then expired) and expiry.
      expect(grant.remaining).toBe(0);
      expect(grant.expiries).toBeLessThanOrEqual(1);
    }
    for (const userId of users) expect(await sweeper.balance(userId)).toBe(0);
  });
});
