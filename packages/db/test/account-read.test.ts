import { randomUUID } from "node:crypto";
import { type Clock, createCreditService, NotFoundError } from "@credits/core";
import { describe, expect, it } from "vitest";
import { createSessionStore } from "../src/auth-stores.ts";
import { createLedgerStore } from "../src/ledger-store.ts";
import { createUser, TEST_SCOPE } from "./fixtures.ts";
import { testDb } from "./setup.ts";

// The one-statement reads (issue 17): account() (balance, live grants, a page of history) and
// balanceView() (balance, next expiry) answer exactly what the separate reads answer, at every
// instant around an expiry (issue 14: a grant is gone AT its expiresAt, by the injected clock);
// the same reads by session (the session and its user in the same statement) answer the same.
const { db } = testDb;
const store = createLedgerStore(db);
let nowMs = Date.parse("2026-06-01T00:00:00Z");
const clock: Clock = { now: () => new Date(nowMs) };
const credits = createCreditService({ store, clock });
const HOUR = 3_600_000;

const grant = (userId: string, amount: number, terms: Parameters<typeof credits.grant>[0]["terms"] = {}) =>
  credits.grant({ scope: TEST_SCOPE, userId, amount, idempotencyKey: randomUUID(), terms });
const spend = (userId: string, amount: number) =>
  credits.spend({ scope: TEST_SCOPE, userId, amount, idempotencyKey: randomUUID() });

// The separate reads' answer, with the fields the one-statement read carries (AccountEntry,
// AccountGrant): the same values, and no other field.
async function separately(userId: string, options: Parameters<typeof credits.history>[1] = {}) {
  const [history, view] = await Promise.all([credits.history(userId, options), credits.grants(userId)]);
  return {
    ...history,
    transactions: history.transactions.map(
      ({ id, seq, kind, amount, balanceAfter, reason, paymentId, holdId, createdAt, allocations }) => ({
        id,
        seq,
        kind,
        amount,
        balanceAfter,
        reason,
        paymentId,
        holdId,
        createdAt,
        allocations,
      }),
    ),
    ...view,
    grants: view.grants.map(({ id, category, priority, remaining, expiresAt, createdAt }) => ({
      id,
      category,
      priority,
      remaining,
      expiresAt,
      createdAt,
    })),
  };
}

// A session of the user, valid for a day from the test clock's now.
async function sessionOf(userId: string) {
  const id = `account-read-${randomUUID()}`;
  await createSessionStore(db).insertSession({
    id,
    userId,
    expiresAt: new Date(nowMs + 24 * HOUR),
    createdAt: new Date(nowMs),
  });
  return id;
}

describe("one-statement reads", () => {
  it("agree with the separate reads before, at and after an expiry, with every page option", async () => {
    const start = nowMs;
    const userId = await createUser(db);
    const soon = new Date(start + HOUR);
    await grant(userId, 5, { category: "promotional", expiresAt: soon });
    await grant(userId, 3, { category: "adjustment", expiresAt: soon });
    await grant(userId, 4, { category: "paid", expiresAt: new Date(start + 2 * HOUR) });
    await grant(userId, 2, { category: "paid" });
    await spend(userId, 1);
    const sessionId = await sessionOf(userId);
    const pages = [
      {},
      { limit: 2 },
      { limit: 1, order: "asc" as const },
      { kinds: ["grant" as const] },
      { from: new Date(start - HOUR), to: new Date(start + HOUR) },
    ];
    for (const at of [start, soon.getTime() - 1, soon.getTime(), soon.getTime() + 1, start + 2 * HOUR]) {
      nowMs = at;
      for (const options of pages) {
        expect(
          await credits.account(userId, options),
          `${new Date(at).toISOString()} ${JSON.stringify(options)}`,
        ).toEqual(await separately(userId, options));
        const own = await credits.accountOfSession(sessionId, options);
        expect(own?.view).toEqual(await credits.account(userId, options));
        expect([own?.session.id, own?.session.userId, own?.user.id]).toEqual([sessionId, userId, userId]);
      }
      const expected = await separately(userId);
      expect(await credits.balanceView(userId)).toEqual({ balance: expected.balance, nextExpiry: expected.nextExpiry });
      expect((await credits.balanceOfSession(sessionId))?.view).toEqual(await credits.balanceView(userId));
    }
    nowMs = start;
    expect(await credits.balanceView(userId)).toEqual({ balance: 13, nextExpiry: { amount: 7, at: soon } });
    nowMs = soon.getTime();
    // At expiresAt exactly the 7 credits are gone, from the balance and from the grants.
    const atExpiry = await credits.account(userId);
    expect(atExpiry.balance).toBe(6);
    expect(atExpiry.grants.map((g) => g.remaining)).toEqual([4, 2]);
    expect(await credits.accountOfSession("no-such-session")).toBeNull();
    expect(await credits.balanceOfSession("no-such-session")).toBeNull();
    nowMs = start;
  });

  it("bring the session's user without the password hash (SessionUserRecord)", async () => {
    const userId = await createUser(db);
    const sessionId = await sessionOf(userId);
    const reads = {
      accountOfSession: await credits.accountOfSession(sessionId),
      balanceOfSession: await credits.balanceOfSession(sessionId),
      findSession: await createSessionStore(db).findSession(sessionId),
    };
    for (const [read, found] of Object.entries(reads)) {
      expect(found?.user.id, read).toBe(userId);
      expect(found?.user, read).not.toHaveProperty("passwordHash");
    }
  });

  it("follow a cursor page by page, and keep the balance on a page past the end", async () => {
    const userId = await createUser(db);
    for (let i = 0; i < 5; i += 1) await grant(userId, 1 + i);
    const seen: number[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await credits.account(userId, { limit: 2, ...(cursor ? { cursor } : {}) });
      expect(page).toEqual(await separately(userId, { limit: 2, ...(cursor ? { cursor } : {}) }));
      seen.push(...page.transactions.map((t) => t.amount));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(seen).toEqual([5, 4, 3, 2, 1]);
    const none = await credits.account(userId, { kinds: ["spend"] });
    expect(none).toMatchObject({ balance: 15, transactions: [], nextCursor: null });
  });

  it("a user with no grants: empty grants, no next expiry", async () => {
    const userId = await createUser(db);
    expect(await credits.account(userId)).toMatchObject({ balance: 0, grants: [], nextExpiry: null, transactions: [] });
    expect(await credits.balanceView(userId)).toEqual({ balance: 0, nextExpiry: null });
  });

  it("an unknown user, or not a uuid: NotFoundError", async () => {
    for (const userId of [randomUUID(), "not-a-uuid", "'; DROP TABLE users; --"]) {
      await expect(credits.account(userId)).rejects.toBeInstanceOf(NotFoundError);
      await expect(credits.balanceView(userId)).rejects.toBeInstanceOf(NotFoundError);
    }
  });
});
