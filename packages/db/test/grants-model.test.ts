import { randomUUID } from "node:crypto";
import { type Clock, clientKey, createCreditService, InsufficientCreditsError, systemKey } from "@credits/core";
import { type Allocation, GrantModel, owedBy } from "@credits/core/testing";
import { sql } from "drizzle-orm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rowsOf } from "../src/client.ts";
import { createLedgerStore } from "../src/ledger-store.ts";
import { createUser, expectInvariantHolds, TEST_SCOPE } from "./fixtures.ts";
import { onPostgres, testDb } from "./setup.ts";

// The database against core's reference model of grants (core/test/grant-model.ts), with a
// controllable clock: random grants (priorities, expiries), spends, holds, captures, releases,
// sweeps and clock moves. After every command the balance and each live grant's remainder match;
// every row's allocations (which grant each debit took) match; at the end, the expiries too.
const { db } = testDb;
const store = createLedgerStore(db);
let nowMs = 0;
const clock: Clock = { now: () => new Date(nowMs) };
const credits = createCreditService({ store, clock });
const NUM_RUNS = onPostgres ? 100 : 60;

const command = fc.oneof(
  fc.record({
    op: fc.constant("grant" as const),
    amount: fc.integer({ min: 1, max: 20 }),
    priority: fc.integer({ min: 0, max: 3 }).map((p) => p * 25),
    ttl: fc.option(fc.integer({ min: 1, max: 40 })),
  }),
  fc.record({ op: fc.constant("spend" as const), amount: fc.integer({ min: 1, max: 25 }) }),
  fc.record({ op: fc.constant("hold" as const), amount: fc.integer({ min: 1, max: 15 }) }),
  fc.record({ op: fc.constant("capture" as const), hold: fc.nat(), part: fc.integer({ min: 0, max: 100 }) }),
  fc.record({ op: fc.constant("release" as const), hold: fc.nat() }),
  fc.record({ op: fc.constant("advance" as const), seconds: fc.integer({ min: 0, max: 15 }) }),
  fc.record({ op: fc.constant("sweep" as const) }),
);
type Command = typeof command extends fc.Arbitrary<infer C> ? C : never;

const sorted = (allocations: readonly { grantId: string; amount: number }[]) =>
  allocations.map(({ grantId, amount }) => ({ grantId, amount })).sort((a, b) => (a.grantId < b.grantId ? -1 : 1));

async function allocationsOf(key: string): Promise<Allocation[]> {
  const entry = await store.findEntryByKey(key);
  if (!entry) throw new Error(`no row ${key}`);
  return sorted(entry.allocations);
}

interface OpenHold {
  id: string;
  amount: number;
  rows: Allocation[][];
}

async function run(commands: Command[]) {
  nowMs = Date.parse("2026-03-01T00:00:00Z") + Math.floor(Math.random() * 1e9) * 1000;
  const userId = await createUser(db);
  const model = new GrantModel();
  const holds: OpenHold[] = [];
  for (const c of commands) {
    const key = randomUUID();
    if (c.op === "grant") {
      const expiresAt = c.ttl === null ? null : new Date(nowMs + c.ttl * 1000);
      await credits.grant({
        scope: TEST_SCOPE,
        userId,
        amount: c.amount,
        idempotencyKey: key,
        terms: { priority: c.priority, expiresAt },
      });
      const got = await allocationsOf(clientKey(TEST_SCOPE, key).key);
      const id = got[0]?.grantId ?? "";
      const want = model.credit(
        { id, priority: c.priority, expiresAt: expiresAt?.getTime() ?? null, createdAt: nowMs, paymentId: null },
        c.amount,
        nowMs,
      );
      expect(got).toEqual(sorted(want));
    } else if (c.op === "spend") {
      const want = model.debit(c.amount, nowMs);
      const spent = await credits
        .spend({ scope: TEST_SCOPE, userId, amount: c.amount, idempotencyKey: key })
        .catch((error: unknown) => {
          if (error instanceof InsufficientCreditsError) return null;
          throw error;
        });
      expect(spent === null).toBe(want === null);
      if (want) expect(await allocationsOf(clientKey(TEST_SCOPE, key).key)).toEqual(sorted(want));
    } else if (c.op === "hold") {
      const want = model.debit(c.amount, nowMs);
      const held = await credits
        .hold({ scope: TEST_SCOPE, userId, amount: c.amount, idempotencyKey: key })
        .catch((error: unknown) => {
          if (error instanceof InsufficientCreditsError) return null;
          throw error;
        });
      expect(held === null).toBe(want === null);
      if (held && want) {
        expect(await allocationsOf(systemKey.holdReserve(held.hold.id))).toEqual(sorted(want));
        holds.push({ id: held.hold.id, amount: c.amount, rows: [want] });
      }
    } else if ((c.op === "capture" || c.op === "release") && holds.length > 0) {
      const [hold] = holds.splice(c.hold % holds.length, 1);
      if (!hold) continue;
      const captured = c.op === "capture" ? Math.floor((hold.amount * c.part) / 100) : 0;
      if (c.op === "capture") await credits.capture(hold.id, captured);
      else await credits.release(hold.id);
      const rest = hold.amount - captured;
      if (rest > 0) {
        const want = model.restore(owedBy(hold.rows), rest, nowMs, "none");
        expect(await allocationsOf(systemKey.holdSettle(hold.id))).toEqual(sorted(want));
      }
    } else if (c.op === "advance") {
      nowMs += c.seconds * 1000;
    } else if (c.op === "sweep") {
      await credits.expireGrants();
      model.expireDue(nowMs);
    }
    expect(await credits.balance(userId)).toBe(model.balanceAt(nowMs));
    const live = (await credits.grants(userId)).grants.map((g) => [g.id, g.remaining]);
    expect(live).toEqual(model.live(nowMs).map((g) => [g.id, g.remaining]));
  }
  await credits.expireGrants();
  model.expireDue(nowMs);
  const expiries = rowsOf<{ grant_id: string; amount: string | number }>(
    await db.execute(sql`
      SELECT a.grant_id, -a.amount AS amount FROM credit_transactions t JOIN ledger_allocations a ON a.entry_id = t.id
       WHERE t.user_id = ${userId} AND t.kind = 'expiry'`),
  ).map((row) => ({ grantId: row.grant_id, amount: Number(row.amount) }));
  expect(sorted(expiries)).toEqual(sorted(model.expiries));
}

describe("grants against the reference model", () => {
  it(`random grants, spends, holds, captures, releases, sweeps and clock moves (${NUM_RUNS} runs)`, async () => {
    await fc.assert(fc.asyncProperty(fc.array(command, { minLength: 5, maxLength: 30 }), run), { numRuns: NUM_RUNS });
    await expectInvariantHolds(db);
  }, 120_000);
});
