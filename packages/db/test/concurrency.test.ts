import { randomUUID } from "node:crypto";
import {
  type Clock,
  createCreditService,
  type Hold,
  IdempotencyConflictError,
  InsufficientCreditsError,
  InvalidStateError,
} from "@credits/core";
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rowsOf } from "../src/client.ts";
import { createLedgerStore } from "../src/ledger-store.ts";
import { creditTransactions, holds } from "../src/schema.ts";
import { expectInvariantHolds, fundedUser } from "./fixtures.ts";
import { onPostgres, testDb } from "./setup.ts";

// On PostgreSQL these run on a pool of 40 connections (the test database's poolMax), so the
// statements really do race. PGlite has one connection and runs them one after another: the same
// assertions still hold there, they just prove less.
const { db } = testDb;
// Real time plus an offset the test can move forward (to expire every hold at the end).
let clockOffsetMs = 0;
const clock: Clock = { now: () => new Date(Date.now() + clockOffsetMs) };
const credits = createCreditService({ store: createLedgerStore(db), clock });
const key = () => randomUUID();

function settle<T>(promises: Promise<T>[]) {
  return Promise.allSettled(promises).then((results) => ({
    ok: results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : [])),
    errors: results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : [])),
  }));
}

async function ledgerRows(userId: string) {
  return db.select().from(creditTransactions).where(eq(creditTransactions.userId, userId));
}

describe("concurrent spends", () => {
  it("200 spends of 1 against a balance of 100: exactly 100 succeed", async () => {
    const userId = await fundedUser(db, credits, 100);
    const { ok, errors } = await settle(
      Array.from({ length: 200 }, () =>
        credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: 1, idempotencyKey: key() }),
      ),
    );
    for (const error of errors) expect(error).toBeInstanceOf(InsufficientCreditsError);
    expect(ok).toHaveLength(100);
    expect(errors).toHaveLength(100);
    // Each success saw its own balance: 99 down to 0, each exactly once.
    expect(ok.map((r) => r.balance).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(new Set(ok.map((r) => r.transactionId)).size).toBe(100);
    expect(await credits.balance(userId)).toBe(0);
    const rows = await ledgerRows(userId);
    expect(rows).toHaveLength(101);
    expect(Math.min(...rows.map((r) => r.balanceAfter))).toBe(0);
    await expectInvariantHolds(db);
    console.log(
      `concurrency: 200 spends → ${ok.length} ok, ${errors.length} insufficient, balance ${await credits.balance(userId)}`,
    );
  });

  it("20 identical spends with one idempotency key debit once and all answer the same", async () => {
    const userId = await fundedUser(db, credits, 100);
    const idempotencyKey = key();
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: 7, idempotencyKey, reason: "job" }),
      ),
    );
    const first = results[0];
    if (!first) throw new Error("no result");
    for (const result of results) expect(result).toEqual({ transactionId: first.transactionId, balance: 93 });
    expect(await credits.balance(userId)).toBe(93);
    const spends = (await ledgerRows(userId)).filter((r) => r.kind === "spend");
    expect(spends).toHaveLength(1);
    expect(spends[0]?.id).toBe(first.transactionId);
    await expectInvariantHolds(db);
  });

  it("20 identical spends that only one of could afford still debit once and all succeed", async () => {
    const userId = await fundedUser(db, credits, 10);
    const idempotencyKey = key();
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: 10, idempotencyKey }),
      ),
    );
    expect(new Set(results.map((r) => r.transactionId)).size).toBe(1);
    expect(results.every((r) => r.balance === 0)).toBe(true);
    expect(await credits.balance(userId)).toBe(0);
  });

  it("one key with two amounts at once: one debit, the other amount is a conflict", async () => {
    const userId = await fundedUser(db, credits, 100);
    const idempotencyKey = key();
    const amounts = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 5 : 8));
    const outcomes = await Promise.allSettled(
      amounts.map((amount) => credits.spend({ scope: { kind: "user", id: "test" }, userId, amount, idempotencyKey })),
    );
    const winners = new Set(outcomes.flatMap((o, i) => (o.status === "fulfilled" ? [amounts[i]] : [])));
    expect(winners.size).toBe(1);
    const winner = [...winners][0] as number;
    const ids = new Set<string>();
    outcomes.forEach((outcome, i) => {
      if (amounts[i] === winner) {
        expect(outcome.status).toBe("fulfilled");
        if (outcome.status === "fulfilled") {
          ids.add(outcome.value.transactionId);
          expect(outcome.value.balance).toBe(100 - winner);
        }
      } else {
        expect(outcome.status).toBe("rejected");
        if (outcome.status === "rejected") expect(outcome.reason).toBeInstanceOf(IdempotencyConflictError);
      }
    });
    expect(ids.size).toBe(1);
    expect(await credits.balance(userId)).toBe(100 - winner);

    // And afterwards: another amount, another kind, another user are all conflicts too.
    const loser = winner === 5 ? 8 : 5;
    await expect(
      credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: loser, idempotencyKey }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
    await expect(
      credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: 1_000, idempotencyKey }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
    await expect(
      credits.grant({ scope: { kind: "user", id: "test" }, userId, amount: winner, idempotencyKey }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
    const later = await settle(
      Array.from({ length: 10 }, () =>
        credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: loser, idempotencyKey }),
      ),
    );
    expect(later.ok).toHaveLength(0);
    for (const error of later.errors) expect(error).toBeInstanceOf(IdempotencyConflictError);
    expect(
      (await credits.spend({ scope: { kind: "user", id: "test" }, userId, amount: winner, idempotencyKey }))
        .transactionId,
    ).toBe([...ids][0]);
    expect(await credits.balance(userId)).toBe(100 - winner);
    expect((await ledgerRows(userId)).filter((r) => r.kind === "spend")).toHaveLength(1);
    await expectInvariantHolds(db);
  });

  it("one hold key used 20 times at once reserves once", async () => {
    const userId = await fundedUser(db, credits, 50);
    const idempotencyKey = key();
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        credits.hold({ scope: { kind: "user", id: "test" }, userId, amount: 30, idempotencyKey }),
      ),
    );
    expect(new Set(results.map((r) => r.hold.id)).size).toBe(1);
    expect(results.every((r) => r.balance === 20)).toBe(true);
    expect(await credits.balance(userId)).toBe(20);
    expect(await db.select().from(holds).where(eq(holds.userId, userId))).toHaveLength(1);
    // Leaves no open hold behind: the random workers below count every expiry in the database.
    expect((await credits.release(results[0]?.hold.id ?? "")).balance).toBe(50);
  });

  it("capture and release racing on one hold: exactly one wins", async () => {
    const userId = await fundedUser(db, credits, 50);
    const { hold } = await credits.hold({
      scope: { kind: "user", id: "test" },
      userId,
      amount: 30,
      idempotencyKey: key(),
    });
    const calls = Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0 ? credits.capture(hold.id, 10) : credits.release(hold.id),
    );
    const { ok, errors } = await settle(calls);
    for (const error of errors) expect(error).toBeInstanceOf(InvalidStateError);
    expect(ok).toHaveLength(10);
    expect(errors).toHaveLength(10);
    const status = ok[0]?.hold.status;
    expect(ok.every((r) => r.hold.status === status)).toBe(true);
    expect(await credits.balance(userId)).toBe(status === "captured" ? 40 : 50);
    await expectInvariantHolds(db);
  });
});

// ---------------------------------------------------------------------------------------------
// Random workers: many clients doing everything at once to a few users.

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
