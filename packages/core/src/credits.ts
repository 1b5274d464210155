import { type Clock, systemClock } from "./clock.ts";
import { createHoldOperations } from "./credit-holds.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { IdempotencyConflictError, InvalidInputError, NotFoundError } from "./errors.ts";
import { type GrantsView, type GrantTerms, grantsView, grantTermsOf, sameTerms } from "./grants.ts";
import type {
  AccountEntry,
  AccountGrant,
  AccountView,
  BalanceView,
  InvariantCheck,
  LedgerEntry,
  LedgerKind,
  LedgerQuery,
  LedgerStore,
  PageQuery,
  Posting,
  TouchedUsers,
} from "./ledger.ts";
import { balanceIn, refusal } from "./ledger-balance.ts";
import { clientKey, type IdempotencyScope } from "./ledger-keys.ts";
import { GRANT_EXPIRY_BATCH, MAX_PAGE_SIZE } from "./limits.ts";
import { withRetry } from "./retry.ts";
import { assertCredits, assertIdempotencyKey, assertReason, pageLimit, sameId } from "./validate.ts";

export type { HoldResult } from "./credit-holds.ts";

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

export interface HistoryOptions {
  limit?: number;
  cursor?: string;
  kinds?: LedgerKind[];
  from?: Date;
  to?: Date;
  order?: "asc" | "desc";
}

export interface History<E extends Pick<LedgerEntry, "seq"> = LedgerEntry> {
  balance: number;
  transactions: E[];
  nextCursor: string | null;
}

// The balance-and-history read (account, accountOfSession): the fields its answer shows.
export type Account = History<AccountEntry> & GrantsView<AccountGrant>;

export type CreditService = ReturnType<typeof createCreditService>;

export function createCreditService({ store, clock = systemClock }: { store: LedgerStore; clock?: Clock }) {
  const inTransaction = <T>(work: (tx: LedgerStore) => Promise<T>) => withRetry(() => store.transaction(work));

  const balance = (userId: string) => balanceIn(store, userId, clock.now());
  const holds = createHoldOperations({ clock, inTransaction });

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
  async function account(userId: string, options: HistoryOptions = {}): Promise<Account> {
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
    ...holds,
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

function accountOf(view: AccountView, query: PageQuery): Account {
  return { balance: view.balance, ...page(view.entries, query.limit - 1), ...grantsView(view.grants) };
}

function page<E extends Pick<LedgerEntry, "seq">>(
  rows: E[],
  limit: number,
): { transactions: E[]; nextCursor: string | null } {
  const transactions = rows.slice(0, limit);
  const last = transactions.at(-1);
  return { transactions, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}

function samePosting(entry: LedgerEntry, posting: Posting): boolean {
  return (
    sameId(entry.userId, posting.userId) &&
    entry.amount === posting.amount &&
    entry.kind === posting.kind &&
    (entry.reason ?? null) === (posting.reason ?? null)
  );
}
