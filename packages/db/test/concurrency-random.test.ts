import { randomUUID } from "node:crypto";
import { type Clock, createCreditService, type Hold, InsufficientCreditsError, InvalidStateError } from "@credits/core";
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rowsOf } from "../src/client.ts";
import { createLedgerStore } from "../src/ledger-store.ts";
import { holds } from "../src/schema.ts";
import { expectInvariantHolds, fundedUser } from "./fixtures.ts";
import { onPostgres, testDb } from "./setup.ts";

// Many clients doing everything at once to a few users. On PostgreSQL these run on a pool of 40
// connections (the test database's poolMax), so the statements really do race; PGlite has one
// connection and runs them one after another.
const { db } = testDb;
// Real time plus an offset the test can move forward (to expire every hold at the end).
let clockOffsetMs = 0;
const clock: Clock = { now: () => new Date(Date.now() + clockOffsetMs) };
const credits = createCreditService({ store: createLedgerStore(db), clock });
const key = () => randomUUID();

const WORKERS = 32;
const USERS = 4;
const STARTING_BALANCE = 200;
// PGlite serializes everything through one connection, so a long run there proves little more
// than a short one; PostgreSQL gets the full 10 s.
const RUN_MS = onPostgres ? 10_000 : 2_000;

type OpKind = "grant" | "spend" | "doubleSpend" | "replay" | "hold" | "capture" | "release" | "expire";

interface Posted {
  transactionId: string;
  userId: string;
  amount: number; // signed
  kind: "grant" | "spend";
  idempotencyKey: string;
}

interface HoldFate {
  hold: Hold;
  captured: Set<number>;
  released: number;
}

class Tally {
  attempted = new Map<OpKind, number>();
  succeeded = new Map<OpKind, number>();
  refused = new Map<string, number>();
  count(map: Map<string, number>, name: string) {
    map.set(name, (map.get(name) ?? 0) + 1);
  }
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;
const between = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));

describe("random workers", () => {
  it(`${WORKERS} workers for ${RUN_MS / 1000} s (${testDb.driver}): balances match the model, invariant holds`, async () => {
    const userIds: string[] = [];
    for (let i = 0; i < USERS; i++) userIds.push(await fundedUser(db, credits, STARTING_BALANCE));

    const posted = new Map<string, Posted>(); // by transaction id
    const postedList: Posted[] = [];
    const fates = new Map<string, HoldFate>(); // by hold id
    const holdList: HoldFate[] = [];
    let expiredDuringRun = 0;
    const tally = new Tally();
    const unexpected: unknown[] = [];

    const record = (entry: Posted, result: { transactionId: string; balance: number }) => {
      expect(result.balance).toBeGreaterThanOrEqual(0);
      const known = posted.get(result.transactionId);
      if (known) {
        expect(known).toEqual({ ...entry, transactionId: result.transactionId });
        return;
      }
      const fresh = { ...entry, transactionId: result.transactionId };
      posted.set(result.transactionId, fresh);
      postedList.push(fresh);
    };

    // The refusals an operation may legitimately answer; anything else (a conflict, a leaked
    // database error, a failed assertion) fails the test.
    const refusal = (op: OpKind, error: unknown) => {
      const debit = op === "spend" || op === "doubleSpend" || op === "hold";
      const settle = op === "capture" || op === "release";
      if ((debit && error instanceof InsufficientCreditsError) || (settle && error instanceof InvalidStateError)) {
        tally.count(tally.refused, `${op}:${error.code}`);
      } else {
        unexpected.push(error);
      }
    };

    async function step(op: OpKind) {
      tally.count(tally.attempted, op);
      const userId = pick(userIds);
      switch (op) {
        case "grant": {
          const amount = between(1, 20);
          const idempotencyKey = key();
          record(
            { userId, amount, kind: "grant", idempotencyKey, transactionId: "" },
            await credits.grant({ scope: { kind: "user", id: "test" }, userId, amount, idempotencyKey }),
          );
          break;
        }
        case "spend": {
          const amount = between(1, 25);
          const idempotencyKey = key();
          record(
            { userId, amount: -amount, kind: "spend", idempotencyKey, transactionId: "" },
            await credits.spend({ scope: { kind: "user", id: "test" }, userId, amount, idempotencyKey }),
          );
          break;
        }
        case "doubleSpend": {
          // The same request sent twice at once (a client retrying on a timeout).
          const amount = between(1, 25);
          const idempotencyKey = key();
          const both = await Promise.allSettled([
            credits.spend({ scope: { kind: "user", id: "test" }, userId, amount, idempotencyKey }),
            credits.spend({ scope: { kind: "user", id: "test" }, userId, amount, idempotencyKey }),
          ]);
          const results = both.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
          for (const o of both) if (o.status === "rejected") refusal(op, o.reason);
          if (results.length === 0) return; // both refused, counted above
          expect(new Set(results.map((r) => r.transactionId)).size).toBe(1);
          for (const result of results) {
            record({ userId, amount: -amount, kind: "spend", idempotencyKey, transactionId: "" }, result);
          }
          break;
        }
        case "replay": {
          const earlier = postedList.length > 0 ? pick(postedList) : undefined;
          if (!earlier) return tally.count(tally.refused, `${op}:nothing-yet`);
          const input = {
            scope: { kind: "user", id: "test" } as const,
            userId: earlier.userId,
            amount: Math.abs(earlier.amount),
            idempotencyKey: earlier.idempotencyKey,
          };
          const result = earlier.kind === "grant" ? await credits.grant(input) : await credits.spend(input);
          expect(result.transactionId).toBe(earlier.transactionId);
          break;
        }
        case "hold": {
          const ttlSeconds = Math.random() < 0.3 ? 1 : 3_600;
          const result = await credits.hold({
            scope: { kind: "user", id: "test" },
            userId,
            amount: between(1, 30),
            idempotencyKey: key(),
            ttlSeconds,
          });
          expect(result.balance).toBeGreaterThanOrEqual(0);
          expect(result.hold).toMatchObject({ userId, status: "open" });
          expect(fates.has(result.hold.id)).toBe(false);
          const fate = { hold: result.hold, captured: new Set<number>(), released: 0 };
          fates.set(result.hold.id, fate);
          holdList.push(fate);
          break;
        }
        case "capture": {
          const fate = holdList.length > 0 ? pick(holdList) : undefined;
          if (!fate) return tally.count(tally.refused, `${op}:nothing-yet`);
          const amount = between(0, fate.hold.amount);
          const result = await credits.capture(fate.hold.id, amount);
          expect(result.hold).toMatchObject({ id: fate.hold.id, status: "captured", capturedAmount: amount });
          fate.captured.add(amount);
          break;
        }
        case "release": {
          const fate = holdList.length > 0 ? pick(holdList) : undefined;
          if (!fate) return tally.count(tally.refused, `${op}:nothing-yet`);
          const result = await credits.release(fate.hold.id);
          expect(result.hold).toMatchObject({ id: fate.hold.id, status: "released", capturedAmount: null });
          fate.released++;
          break;
        }
        case "expire": {
          // Not `x += await …`: that reads x before the await and loses concurrent additions.
          const expired = await credits.expireHolds();
          expiredDuringRun += expired;
          break;
        }
      }
      tally.count(tally.succeeded, op);
    }

    const weighted: [OpKind, number][] = [
      ["grant", 14],
      ["spend", 28],
      ["doubleSpend", 6],
      ["replay", 6],
      ["hold", 20],
      ["capture", 10],
      ["release", 10],
      ["expire", 6],
    ];
    const ops = weighted.flatMap(([op, weight]) => Array.from({ length: weight }, () => op));

    const deadline = Date.now() + RUN_MS;
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (Date.now() < deadline && unexpected.length === 0) {
          const op = pick(ops);
          try {
            await step(op);
          } catch (error) {
            refusal(op, error);
          }
        }
      }),
    );
    if (unexpected.length > 0) throw unexpected[0];

    // Every hold still open now expires: afterwards each hold has exactly one known fate.
    clockOffsetMs = 8 * 24 * 3_600 * 1_000;
    const expiredAtEnd = await credits.expireHolds();
    clockOffsetMs = 0;

    let captured = 0;
    let released = 0;
    const expected = new Map(userIds.map((id) => [id, STARTING_BALANCE]));
    const add = (userId: string, amount: number) => expected.set(userId, (expected.get(userId) ?? 0) + amount);
    for (const entry of posted.values()) add(entry.userId, entry.amount);
    let expectedRows = USERS + posted.size + fates.size;
    for (const fate of fates.values()) {
      expect(fate.captured.size === 0 || fate.released === 0).toBe(true);
      expect(fate.captured.size).toBeLessThanOrEqual(1);
      const capturedAmount = [...fate.captured][0];
      if (capturedAmount !== undefined) {
        captured++;
        add(fate.hold.userId, -capturedAmount);
        if (capturedAmount < fate.hold.amount) expectedRows++;
      } else {
        if (fate.released > 0) released++;
        expectedRows++; // the whole hold came back: released or expired
      }
    }
    expect(expiredDuringRun + expiredAtEnd).toBe(fates.size - captured - released);

    // What the database says about the holds matches what the calls answered.
    const holdRows = await db.select().from(holds).where(sql`${holds.userId} IN ${userIds}`);
    expect(holdRows).toHaveLength(fates.size);
    for (const row of holdRows) {
      const fate = fates.get(row.id);
      expect(fate).toBeDefined();
      if (!fate) continue;
      const expectedStatus = fate.captured.size > 0 ? "captured" : fate.released > 0 ? "released" : "expired";
      expect(row.status).toBe(expectedStatus);
      if (expectedStatus === "captured") expect(row.capturedAmount).toBe([...fate.captured][0]);
    }
    const [{ rows } = { rows: -1 }] = rowsOf<{ rows: number }>(
      await db.execute(sql`SELECT count(*)::int AS rows FROM credit_transactions WHERE user_id IN ${userIds}`),
    );
    expect(rows).toBe(expectedRows);
    const openHolds = await db
      .select()
      .from(holds)
      .where(and(eq(holds.status, "open"), sql`${holds.userId} IN ${userIds}`));
    expect(openHolds).toHaveLength(0);

    for (const userId of userIds) expect(await credits.balance(userId), userId).toBe(expected.get(userId));
    const { violations, usersChecked } = await credits.checkInvariants();
    expect(violations).toEqual([]);
    await expectInvariantHolds(db);

    const fmt = (map: Map<string, number>) =>
      [...map.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${v}`)
        .join(" ");
    const attempted = [...tally.attempted.values()].reduce((a, b) => a + b, 0);
    console.log(
      [
        `concurrency (${testDb.driver}, ${WORKERS} workers, ${RUN_MS / 1000} s, ${USERS} users): ${attempted} ops attempted`,
        `  attempted: ${fmt(tally.attempted)}`,
        `  succeeded: ${fmt(tally.succeeded)}`,
        `  refused (per call; a doubleSpend makes two): ${fmt(tally.refused)}`,
        `  ledger: ${posted.size} grants/spends, ${fates.size} holds (${captured} captured, ${released} released, ${expiredDuringRun} expired during the run, ${expiredAtEnd} at the end), ${rows} rows`,
        `  final balances checked: ${userIds.length} users match the model (${userIds.map((id) => expected.get(id)).join(", ")}); invariant checked over ${usersChecked} users`,
      ].join("\n"),
    );
  });
});
