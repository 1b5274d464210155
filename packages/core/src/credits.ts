import { randomUUID } from "node:crypto";
import { type Clock, systemClock } from "./clock.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import {
  IdempotencyConflictError,
  InsufficientCreditsError,
  InvalidInputError,
  InvalidStateError,
  NotFoundError,
} from "./errors.ts";
import { type GrantsView, type GrantTerms, grantsView, grantTermsOf, sameTerms } from "./grants.ts";
import { invariant } from "./invariant.ts";
import type {
  AccountView,
  BalanceView,
  Hold,
  InvariantCheck,
  LedgerEntry,
  LedgerKind,
  LedgerQuery,
  LedgerStore,
  PageQuery,
  Posting,
  TouchedUsers,
} from "./ledger.ts";
import { clientKey, type IdempotencyScope, systemKey } from "./ledger-keys.ts";
import { GRANT_EXPIRY_BATCH, HOLD_EXPIRY_BATCH, HOLD_TTL_SECONDS, MAX_PAGE_SIZE } from "./limits.ts";
import { withRetry } from "./retry.ts";
import { assertCredits, assertIdempotencyKey, assertReason, pageLimit } from "./validate.ts";

export interface CreditChange {
  userId: string;
  amount: number;
  idempotencyKey: string;
  // The caller whose key it is (an API key, or the signed-in user).
  scope: IdempotencyScope;
  reason?: string | null;
  // For a grant: the terms of the grant it creates (validated by the caller); the rest defaults.
  terms?: Partial<GrantTerms>;
}

export interface CreditResult {
  transactionId: string;
  balance: number;
}

export interface HoldResult {
  hold: Hold;
  balance: number;
}

export interface HistoryOptions {
  limit?: number;
  cursor?: string;
  kinds?: LedgerKind[];
  from?: Date;
  to?: Date;
  order?: "asc" | "desc";
}

export interface History {
  balance: number;
  transactions: LedgerEntry[];
  nextCursor: string | null;
}

export type CreditService = ReturnType<typeof createCreditService>;

export function createCreditService({ store, clock = systemClock }: { store: LedgerStore; clock?: Clock }) {
  const inTransaction = <T>(work: (tx: LedgerStore) => Promise<T>) => withRetry(() => store.transaction(work));

  const balance = (userId: string) => balanceIn(store, userId, clock.now());

  async function change(kind: "spend" | "grant", input: CreditChange): Promise<CreditResult> {
    assertCredits(input.amount);
    assertIdempotencyKey(input.idempotencyKey);
    assertReason(input.reason);
    const key = clientKey(input.scope, input.idempotencyKey);
    const terms = kind === "grant" ? grantTermsOf({ kind, amount: input.amount, grant: input.terms }) : null;
    const at = clock.now();
    // Credits that expire as they are given were never spendable: a mistake, not a grant.
    if (terms?.expiresAt && terms.expiresAt <= at) throw new InvalidInputError("expiresAt must be after now");
    const entry = await withRetry(() =>
      postOnce(store, {
        userId: input.userId,
        amount: kind === "spend" ? -input.amount : input.amount,
        kind,
        idempotencyKey: key.key,
        legacyKey: key.legacy,
        reason: input.reason ?? null,
        ...(terms ? { grant: terms } : {}),
        at,
      }),
    );
    return { transactionId: entry.id, balance: entry.balanceAfter };
  }

  async function history(userId: string, options: HistoryOptions = {}): Promise<History> {
    const query = pageQuery(userId, options);
    const current = await balance(userId);
    return { balance: current, ...page(await store.listEntries(query), query.limit - 1) };
  }

  // The balance, the live grants and a page of history, in one round trip (issue 17).
  async function account(userId: string, options: HistoryOptions = {}): Promise<History & GrantsView> {
    const query = pageQuery(userId, options);
    const view = await store.readAccount(query, clock.now());
    if (!view) throw new NotFoundError("user");
    return accountOf(view, query);
  }

  // The same reads of a session's own user: the session and its user come in the same statement
  // (one round trip in all); null when there is no such session. The caller validates the session.
  async function accountOfSession(sessionId: string, options: HistoryOptions = {}) {
    const query = pageOf(options);
    const found = await store.readAccountOfSession(sessionId, query, clock.now());
    return found && { ...found, view: accountOf(found.view, query) };
  }

  // The balance and the next expiry only, in one round trip: the read to make before every job.
  async function balanceView(userId: string): Promise<BalanceView> {
    const view = await store.readBalance(userId, clock.now());
    if (!view) throw new NotFoundError("user");
    return view;
  }
  const balanceOfSession = (sessionId: string) => store.readBalanceOfSession(sessionId, clock.now());

  async function hold(input: {
    userId: string;
    amount: number;
    idempotencyKey: string;
    scope: IdempotencyScope;
    ttlSeconds?: number;
  }): Promise<HoldResult> {
    assertCredits(input.amount);
    assertIdempotencyKey(input.idempotencyKey);
    const ttlSeconds = input.ttlSeconds ?? HOLD_TTL_SECONDS.default;
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < HOLD_TTL_SECONDS.min || ttlSeconds > HOLD_TTL_SECONDS.max) {
      throw new InvalidInputError(`ttlSeconds must be from ${HOLD_TTL_SECONDS.min} to ${HOLD_TTL_SECONDS.max}`);
    }
    const key = clientKey(input.scope, input.idempotencyKey);
    return inTransaction(async (tx) => {
      if ((await tx.getBalance(input.userId)) === null) throw new NotFoundError("user");
      const id = randomUUID();
      // A hold made before keys were scoped answers its retries (no hold is written under a
      // legacy key any more, so this read cannot race an insert).
      const legacy = await tx.findHoldByKey(key.legacy);
      const created = legacy
        ? null
        : await tx.insertHold({
            id,
            userId: input.userId,
            amount: input.amount,
            idempotencyKey: key.key,
            expiresAt: new Date(clock.now().getTime() + ttlSeconds * 1000),
          });
      if (!created) {
        const existing = legacy ?? (await tx.findHoldByKey(key.key));
        if (!existing || existing.userId !== input.userId || existing.amount !== input.amount) {
          throw new IdempotencyConflictError();
        }
        const reserved = await tx.findEntryByKey(systemKey.holdReserve(existing.id));
        return { hold: existing, balance: reserved?.balanceAfter ?? (await balanceIn(tx, input.userId, clock.now())) };
      }
      const entry = await tx.post({
        userId: input.userId,
        amount: -input.amount,
        kind: "hold",
        idempotencyKey: systemKey.holdReserve(id),
        holdId: id,
        at: clock.now(),
      });
      if (!entry) throw await refusal(tx, input.userId, input.amount, clock.now());
      return { hold: created, balance: entry.balanceAfter };
    });
  }

  // Captures `amount` of an open hold (0 to the held amount) and returns the rest to the balance.
  // Capturing again with the same amount answers with the same hold (and today's balance).
  async function capture(holdId: string, amount: number): Promise<HoldResult> {
    assertCredits(amount, "amount", { allowZero: true });
    return settle(holdId, "captured", amount);
  }

  async function release(holdId: string): Promise<HoldResult> {
    return settle(holdId, "released", null);
  }

  async function settle(holdId: string, status: "captured" | "released", capturedAmount: number | null) {
    return inTransaction(async (tx) => {
      const found = await lockedHold(tx, holdId);
      if (!found) throw new NotFoundError("hold");
      const capturable = found.amount - found.clawedBack;
      // A settled hold answers below (the same settlement again, or 409), whatever the amount.
      if (found.status === "open" && capturedAmount !== null && capturedAmount > capturable) {
        const clawed = found.clawedBack > 0 ? ` (${found.clawedBack} of its ${found.amount} were taken back)` : "";
        throw new InvalidInputError(`cannot capture ${capturedAmount}: the hold is for ${capturable}${clawed}`);
      }
      const settled = await tx.settleHold(holdId, { status, capturedAmount, now: clock.now() });
      if (!settled) {
        // Read under the owner's lock, `found` is still the hold's state.
        if (found.status === status && found.capturedAmount === capturedAmount) {
          return { hold: found, balance: await balanceIn(tx, found.userId, clock.now()) };
        }
        const state = found.status === "open" ? "expired" : found.status;
        throw new InvalidStateError(`hold is ${state}`);
      }
      return { hold: settled, balance: await returnRest(tx, settled) };
    });
  }

  // The hold, read after its owner's balance row is locked: the lock order of every path that
  // touches a user's holds (clawbacks included), so what it says cannot change until we commit.
  async function lockedHold(tx: LedgerStore, holdId: string): Promise<Hold | null> {
    const found = await tx.findHold(holdId);
    if (!found) return null;
    await tx.lockBalance(found.userId);
    return tx.findHold(holdId);
  }

  async function returnRest(tx: LedgerStore, settled: Hold): Promise<number> {
    const rest = settled.amount - (settled.capturedAmount ?? 0) - settled.clawedBack;
    if (rest === 0) return balanceIn(tx, settled.userId, clock.now());
    const entry = await tx.post({
      userId: settled.userId,
      amount: rest,
      kind: "hold_release",
      idempotencyKey: systemKey.holdSettle(settled.id),
      holdId: settled.id,
      reason: settled.status === "expired" ? "hold expired" : null,
      at: clock.now(),
    });
    invariant(entry, `hold ${settled.id}: returning ${rest} credits failed`);
    // Not the row's balance_after: what returned to a grant past its expiry expired right after it.
    return balanceIn(tx, settled.userId, clock.now());
  }

  // Returns the credits of holds past their expiry. Safe to run from several processes at once:
  // each batch locks its holds and skips those another sweeper holds.
  async function expireHolds(): Promise<number> {
    let expired = 0;
    for (;;) {
      const count = await inTransaction(async (tx) => {
        const now = clock.now();
        const due = await tx.lockExpiredHolds(now, HOLD_EXPIRY_BATCH);
        for (const due1 of due) {
          const settled = await tx.settleHold(due1.id, { status: "expired", capturedAmount: null, now });
          if (settled) await returnRest(tx, settled);
        }
        return due.length;
      });
      expired += count;
      if (count < HOLD_EXPIRY_BATCH) return expired;
    }
  }

  // Records the expiry of grants past their expiresAt (reads and spends already treat them as
  // gone). Safe to run from several processes at once: owners are locked in id order and those
  // another sweeper holds are skipped.
  async function expireGrants(): Promise<number> {
    let owners = 0;
    for (;;) {
      const count = await withRetry(() => store.expireDueGrants(clock.now(), GRANT_EXPIRY_BATCH));
      owners += count;
      if (count < GRANT_EXPIRY_BATCH) return owners;
    }
  }

  async function grants(userId: string): Promise<GrantsView> {
    if ((await store.getBalance(userId)) === null) throw new NotFoundError("user");
    return grantsView(await store.listGrants(userId, clock.now()));
  }

  async function grantHistory(userId: string, limit = MAX_PAGE_SIZE) {
    return store.grantHistory(userId, pageLimit(limit));
  }

  async function checkInvariants(
    limit = 100,
    touched?: TouchedUsers,
    options: { flag?: boolean } = {},
  ): Promise<InvariantCheck> {
    return store.findInvariantViolations(limit, touched, options);
  }

  return {
    balance,
    history,
    account,
    accountOfSession,
    balanceView,
    balanceOfSession,
    spend: (input: CreditChange) => change("spend", input),
    grant: (input: CreditChange) => change("grant", input),
    hold,
    capture,
    release,
    expireHolds,
    expireGrants,
    grants,
    grantHistory,
    checkInvariants,
    ledgerWatermark: () => store.ledgerWatermark(),
    listHolds: (userId: string) => store.listHolds(userId, MAX_PAGE_SIZE),
  };
}

// Applies a posting exactly once per idempotency key. The unique key decides (never a prior
// read): if the post did not happen, the key's existing row is either this same request, answered
// again, or a different one, which is a conflict.
export async function postOnce(store: LedgerStore, posting: Posting): Promise<LedgerEntry> {
  try {
    const entry = await store.post(posting);
    if (entry) return entry;
  } catch (error) {
    if (!store.isKeyConflict(error)) throw error;
  }
  const existing =
    (await store.findEntryByKey(posting.idempotencyKey)) ??
    (posting.legacyKey ? await store.findEntryByKey(posting.legacyKey) : null);
  if (existing) {
    if (!samePosting(existing, posting)) throw new IdempotencyConflictError();
    await assertSameTerms(store, existing, posting);
    return existing;
  }
  throw await refusal(store, posting.userId, -posting.amount, posting.at);
}

// Terms are part of a credit's identity: the same key with other terms is another request.
async function assertSameTerms(store: LedgerStore, existing: LedgerEntry, posting: Posting): Promise<void> {
  const terms = grantTermsOf(posting);
  if (!terms) return;
  const created = await store.findGrantByEntry(existing.id);
  if (created && !sameTerms(created, terms)) throw new IdempotencyConflictError();
}

// The store query of a history page: one row more than the page, to know whether another follows.
function pageQuery(userId: string, options: HistoryOptions): LedgerQuery {
  return { userId, ...pageOf(options) };
}

function pageOf(options: HistoryOptions): PageQuery {
  const limit = pageLimit(options.limit);
  if (options.from && options.to && options.from > options.to) {
    throw new InvalidInputError("from must not be after to");
  }
  return {
    limit: limit + 1,
    order: options.order ?? "desc",
    ...(options.cursor ? { after: decodeCursor(options.cursor) } : {}),
    ...(options.kinds?.length ? { kinds: options.kinds } : {}),
    ...(options.from ? { from: options.from } : {}),
    ...(options.to ? { to: options.to } : {}),
  };
}

function accountOf(view: AccountView, query: PageQuery): History & GrantsView {
  return { balance: view.balance, ...page(view.entries, query.limit - 1), ...grantsView(view.grants) };
}

function page(rows: LedgerEntry[], limit: number): { transactions: LedgerEntry[]; nextCursor: string | null } {
  const transactions = rows.slice(0, limit);
  const last = transactions.at(-1);
  return { transactions, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}

async function balanceIn(store: LedgerStore, userId: string, at: Date): Promise<number> {
  const current = await store.getBalance(userId, at);
  if (current === null) throw new NotFoundError("user");
  return current;
}

async function refusal(store: LedgerStore, userId: string, requested: number, at?: Date): Promise<Error> {
  const current = await store.getBalance(userId, at);
  if (current === null) return new NotFoundError("user");
  return new InsufficientCreditsError(current, requested);
}

function samePosting(entry: LedgerEntry, posting: Posting): boolean {
  return (
    entry.userId === posting.userId &&
    entry.amount === posting.amount &&
    entry.kind === posting.kind &&
    (entry.reason ?? null) === (posting.reason ?? null)
  );
}
