import { randomUUID } from "node:crypto";
import {
  type Clock,
  createCreditService,
  IdempotencyConflictError,
  InsufficientCreditsError,
  InvalidInputError,
  InvalidStateError,
} from "@credits/core";
import { sql } from "drizzle-orm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rowsOf } from "../src/client.ts";
import { createLedgerStore } from "../src/ledger-store.ts";
import { createUser, expectInvariantHolds } from "./fixtures.ts";
import { onPostgres, testDb } from "./setup.ts";

// Model-based test of the credit service: random command sequences against a few users, with
// idempotency keys drawn from a small pool so that they repeat (same request: a replay; other
// parameters: a conflict). After every command each user's balance must equal the model's.
//
// Grant and spend keys share one pool; hold keys have their own. The service keeps the two
// namespaces apart (a hold's key lives on the holds table, a spend's on the ledger), and this test
// does not pin down what reusing a spend's key for a hold should do.

const { db } = testDb;
const USERS = 3;
const LEDGER_KEYS = 5; // k0..k4; a drawn index at or above this means a fresh key
const HOLD_KEYS = 4; // h0..h3
const START = Date.parse("2026-01-01T00:00:00Z");

let nowMs = START;
const clock: Clock = { now: () => new Date(nowMs) };
const credits = createCreditService({ store: createLedgerStore(db), clock });
// Before each run: every hold left open by earlier runs expires, so that the sweeps this run makes
// count only its own holds.
const sweeper = createCreditService({ store: createLedgerStore(db), clock: { now: () => new Date("2100-01-01") } });

interface Entry {
  user: number;
  amount: number; // signed
  kind: "grant" | "spend";
  key: string;
  transactionId: string;
  balanceAfter: number;
}

interface ModelHold {
  user: number;
  amount: number;
  key: string;
  ttlSeconds: number;
  status: "open" | "captured" | "released" | "expired";
  captured: number | null;
  expiresAtMs: number;
  reservedBalance: number;
  id: string;
}

interface Model {
  balances: number[];
  entries: Map<string, Entry>;
  entryList: Entry[];
  holds: ModelHold[];
  holdsByKey: Map<string, ModelHold>;
  freshKeys: number;
  ledgerRows: number;
}

interface Real {
  run: string;
  userIds: string[];
}

type Cmd = fc.AsyncCommand<Model, Real>;

// Commands actually run (fast-check skips those whose precondition fails), by name.
const executed = new Map<string, number>();

function command(
  name: string,
  label: string,
  check: (model: Readonly<Model>) => boolean,
  run: (model: Model, real: Real) => Promise<void>,
): Cmd {
  return {
    check,
    run: async (model, real) => {
      executed.set(name, (executed.get(name) ?? 0) + 1);
      await run(model, real);
    },
    toString: () => label,
  };
}

const always = () => true;
const hasEntries = (model: Readonly<Model>) => model.entryList.length > 0;
const hasHolds = (model: Readonly<Model>) => model.holds.length > 0;

const userId = (real: Real, user: number) => real.userIds[user] as string;
const balanceOf = (model: Readonly<Model>, user: number) => model.balances[user] ?? 0;
function move(model: Model, user: number, delta: number): number {
  model.balances[user] = balanceOf(model, user) + delta;
  return balanceOf(model, user);
}
const nth = <T>(items: readonly T[], pick: number) => items[pick % items.length] as T;

async function expectBalances(model: Model, real: Real) {
  const actual = await Promise.all(real.userIds.map((id) => credits.balance(id)));
  expect(actual).toEqual(model.balances);
}

function ledgerKey(model: Model, real: Real, drawn: number) {
  const name = drawn < LEDGER_KEYS ? `k${drawn}` : `fresh${model.freshKeys++}`;
  return `${real.run}:${name}`;
}

async function rejects(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to be refused, and it succeeded");
}

function post(kind: "grant" | "spend", user: number, amount: number, keyIndex: number): Cmd {
  return command(kind, `${kind}(u${user}, ${amount}, key ${keyIndex})`, always, async (model, real) => {
    const key = ledgerKey(model, real, keyIndex);
    const signed = kind === "grant" ? amount : -amount;
    const call = () =>
      credits[kind]({ scope: { kind: "user", id: "test" }, userId: userId(real, user), amount, idempotencyKey: key });
    const existing = model.entries.get(key);
    if (existing) {
      if (existing.user === user && existing.kind === kind && existing.amount === signed) {
        expect(await call()).toEqual({ transactionId: existing.transactionId, balance: existing.balanceAfter });
      } else {
        expect(await rejects(call())).toBeInstanceOf(IdempotencyConflictError);
      }
    } else if (balanceOf(model, user) + signed < 0) {
      const error = await rejects(call());
      expect(error).toBeInstanceOf(InsufficientCreditsError);
      expect(error).toMatchObject({ balance: balanceOf(model, user), requested: amount });
    } else {
      const result = await call();
      expect(result.balance).toBe(move(model, user, signed));
      const entry: Entry = {
        user,
        amount: signed,
        kind,
        key,
        transactionId: result.transactionId,
        balanceAfter: result.balance,
      };
      model.entries.set(key, entry);
      model.entryList.push(entry);
      model.ledgerRows++;
    }
    await expectBalances(model, real);
  });
}

// The exact request of an earlier grant or spend, sent again.
const replay = (pick: number) =>
  command("replay", `replay(#${pick})`, hasEntries, async (model, real) => {
    const entry = nth(model.entryList, pick);
    const result = await credits[entry.kind]({
      scope: { kind: "user", id: "test" },
      userId: userId(real, entry.user),
      amount: Math.abs(entry.amount),
      idempotencyKey: entry.key,
    });
    expect(result).toEqual({ transactionId: entry.transactionId, balance: entry.balanceAfter });
    await expectBalances(model, real);
  });

const placeHold = (user: number, amount: number, keyIndex: number, ttlSeconds: number) =>
  command("hold", `hold(u${user}, ${amount}, key h${keyIndex}, ttl ${ttlSeconds})`, always, (model, real) =>
    holdOnce(model, real, user, amount, `${real.run}:h${keyIndex}`, ttlSeconds),
  );

const replayHold = (pick: number) =>
  command("replayHold", `replayHold(#${pick})`, hasHolds, (model, real) => {
    const hold = nth(model.holds, pick);
    return holdOnce(model, real, hold.user, hold.amount, hold.key, hold.ttlSeconds);
  });

async function holdOnce(model: Model, real: Real, user: number, amount: number, key: string, ttlSeconds: number) {
  const call = () =>
    credits.hold({
      scope: { kind: "user", id: "test" },
      userId: userId(real, user),
      amount,
      idempotencyKey: key,
      ttlSeconds,
    });
  const existing = model.holdsByKey.get(key);
  if (existing) {
    if (existing.user === user && existing.amount === amount) {
      const result = await call();
      expect(result.hold.id).toBe(existing.id);
      expect(result.balance).toBe(existing.reservedBalance);
    } else {
      expect(await rejects(call())).toBeInstanceOf(IdempotencyConflictError);
    }
  } else if (balanceOf(model, user) < amount) {
    const error = await rejects(call());
    expect(error).toBeInstanceOf(InsufficientCreditsError);
    expect(error).toMatchObject({ balance: balanceOf(model, user), requested: amount });
  } else {
    const result = await call();
    expect(result.balance).toBe(move(model, user, -amount));
    const expiresAtMs = nowMs + ttlSeconds * 1000;
    expect(result.hold).toMatchObject({ amount, status: "open", capturedAmount: null, settledAt: null });
    expect(result.hold.expiresAt.getTime()).toBe(expiresAtMs);
    const hold: ModelHold = {
      user,
      amount,
      key,
      ttlSeconds,
      status: "open",
      captured: null,
      expiresAtMs,
      reservedBalance: result.balance,
      id: result.hold.id,
    };
    model.holds.push(hold);
    model.holdsByKey.set(key, hold);
    model.ledgerRows++;
  }
  await expectBalances(model, real);
}

// `percent` above 100 asks for more than the hold: an invalid input (of an open hold).
const capture = (pick: number, percent: number) =>
  command("capture", `capture(#${pick}, ${percent}%)`, hasHolds, async (model, real) => {
    const hold = nth(model.holds, pick);
    const amount = percent > 100 ? hold.amount + percent - 100 : Math.floor((hold.amount * percent) / 100);
    const call = () => credits.capture(hold.id, amount);
    // A settled hold answers as settled (409, or the same capture again) whatever the amount.
    if (amount > hold.amount && hold.status === "open") {
      expect(await rejects(call())).toBeInstanceOf(InvalidInputError);
    } else if (hold.status === "open" && hold.expiresAtMs > nowMs) {
      const result = await call();
      hold.status = "captured";
      hold.captured = amount;
      if (amount < hold.amount) model.ledgerRows++;
      expect(result.hold).toMatchObject({ id: hold.id, status: "captured", capturedAmount: amount });
      expect(result.balance).toBe(move(model, hold.user, hold.amount - amount));
    } else if (hold.status === "captured" && hold.captured === amount) {
      const result = await call();
      expect(result.hold).toMatchObject({ id: hold.id, status: "captured", capturedAmount: amount });
      expect(result.balance).toBe(balanceOf(model, hold.user));
    } else {
      const error = await rejects(call());
      expect(error).toBeInstanceOf(InvalidStateError);
      expect((error as Error).message).toBe(`hold is ${hold.status === "open" ? "expired" : hold.status}`);
    }
    await expectBalances(model, real);
  });

const release = (pick: number) =>
  command("release", `release(#${pick})`, hasHolds, async (model, real) => {
    const hold = nth(model.holds, pick);
    const call = () => credits.release(hold.id);
    if (hold.status === "open" || hold.status === "released") {
      // An open hold past its deadline that no sweep has reached yet can still be released.
      const result = await call();
      if (hold.status === "open") {
        hold.status = "released";
        move(model, hold.user, hold.amount);
        model.ledgerRows++;
      }
      expect(result.hold).toMatchObject({ id: hold.id, status: "released", capturedAmount: null });
      expect(result.balance).toBe(balanceOf(model, hold.user));
    } else {
      const error = await rejects(call());
      expect(error).toBeInstanceOf(InvalidStateError);
      expect((error as Error).message).toBe(`hold is ${hold.status}`);
    }
    await expectBalances(model, real);
  });

const advance = (seconds: number) =>
  command("advance", `advance(${seconds} s)`, always, async () => {
    nowMs += seconds * 1000;
  });

const expire = () =>
  command("expire", "expireHolds()", always, async (model, real) => {
    const due = model.holds.filter((h) => h.status === "open" && h.expiresAtMs <= nowMs);
    expect(await credits.expireHolds()).toBe(due.length);
    for (const hold of due) {
      hold.status = "expired";
      move(model, hold.user, hold.amount);
      model.ledgerRows++;
    }
    await expectBalances(model, real);
  });

const user = fc.integer({ min: 0, max: USERS - 1 });
const ledgerKeyIndex = fc.integer({ min: 0, max: LEDGER_KEYS + 2 }); // 5, 6, 7: fresh
const pick = fc.nat({ max: 1_000 });
const commands = fc.commands(
  [
    fc.tuple(user, fc.integer({ min: 1, max: 60 }), ledgerKeyIndex).map(([u, a, k]) => post("grant", u, a, k)),
    fc.tuple(user, fc.integer({ min: 1, max: 40 }), ledgerKeyIndex).map(([u, a, k]) => post("spend", u, a, k)),
    pick.map((p) => replay(p)),
    fc
      .tuple(
        user,
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: HOLD_KEYS - 1 }),
        fc.constantFrom(60, 600, 3_600),
      )
      .map(([u, a, k, ttl]) => placeHold(u, a, k, ttl)),
    pick.map((p) => replayHold(p)),
    fc
      .tuple(pick, fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constantFrom(0, 100, 101, 110)))
      .map(([p, pct]) => capture(p, pct)),
    pick.map((p) => release(p)),
    fc.integer({ min: 1, max: 4_000 }).map((s) => advance(s)),
    fc.constant(null).map(() => expire()),
  ],
  { maxCommands: 50, size: "max" },
);

// Kept small enough for PGlite (one connection, every call in turn) to finish in well under 20 s.
const NUM_RUNS = onPostgres ? 200 : 150;

describe("ledger model", () => {
  it(`random grant/spend/hold/capture/release/expiry sequences match the model (${NUM_RUNS} runs)`, async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        runs++;
        await sweeper.expireHolds();
        nowMs = START;
        const real: Real = { run: randomUUID(), userIds: [] };
        for (let i = 0; i < USERS; i++) real.userIds.push(await createUser(db));
        const model: Model = {
          balances: Array.from({ length: USERS }, () => 0),
          entries: new Map(),
          entryList: [],
          holds: [],
          holdsByKey: new Map(),
          freshKeys: 0,
          ledgerRows: 0,
        };
        await fc.asyncModelRun(() => ({ model, real }), cmds);

        const [counted] = rowsOf<{ rows: number }>(
          await db.execute(sql`SELECT count(*)::int AS rows FROM credit_transactions WHERE user_id IN ${real.userIds}`),
        );
        expect(counted?.rows).toBe(model.ledgerRows);
        await expectInvariantHolds(db);
      }),
      { numRuns: NUM_RUNS },
    );
    expect(runs).toBeGreaterThanOrEqual(NUM_RUNS);
    const { violations } = await credits.checkInvariants();
    expect(violations).toEqual([]);
    const total = [...executed.values()].reduce((a, b) => a + b, 0);
    const detail = [...executed.entries()].map(([name, n]) => `${name}=${n}`).join(" ");
    console.log(`ledger model (${testDb.driver}): ${runs} runs, ${total} commands run (${detail})`);
    // Every kind of command really ran, not just the ones without preconditions.
    for (const name of ["grant", "spend", "replay", "hold", "replayHold", "capture", "release", "advance", "expire"]) {
      expect(executed.get(name) ?? 0, name).toBeGreaterThan(0);
    }
    // The invariant check after every run now also sums every grant's allocations: on a loaded
    // machine the 200 runs took just over the default 60 s.
  }, 180_000);
});
