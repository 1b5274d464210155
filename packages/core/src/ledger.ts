import type { FoundSession } from "./auth/ports.ts";
import type { Cursor } from "./cursor.ts";
import type { CreditGrant, GrantAllocation, GrantTerms } from "./grants.ts";

export const ledgerKinds = [
  "purchase",
  "spend",
  "grant",
  "hold",
  "hold_release",
  "admin_adjustment",
  "refund_clawback",
  // Gives back what a refund clawed back when the provider's refund later failed (ADR 016).
  "refund_reversal",
  "dispute_clawback",
  "dispute_reversal",
  "expiry",
] as const;
export type LedgerKind = (typeof ledgerKinds)[number];

export interface LedgerEntry {
  id: string;
  seq: number;
  userId: string;
  amount: number;
  balanceAfter: number;
  kind: LedgerKind;
  idempotencyKey: string;
  reason: string | null;
  paymentId: string | null;
  holdId: string | null;
  adminActionId: string | null;
  createdAt: Date;
  // The grants this row moved, in spending order (empty for rows from before grants existed).
  allocations: GrantAllocation[];
}

// One balance change: the store applies it to the cached balance and appends its ledger row
// atomically, or does neither.
export interface Posting {
  userId: string;
  amount: number;
  kind: LedgerKind;
  idempotencyKey: string;
  // A client key's unscoped form from before keys were scoped (ledger-keys.ts): when the ledger
  // already has it, the posting is not applied (a retry of a request made before the upgrade).
  legacyKey?: string | null;
  reason?: string | null;
  paymentId?: string | null;
  holdId?: string | null;
  adminActionId?: string | null;
  // Only a dispute clawback may take a balance below zero (and it flags the user).
  allowNegative?: boolean;
  // The grant a credit creates (purchase, grant, positive admin_adjustment). Absent: purchase ->
  // paid, grant -> promotional, admin_adjustment -> adjustment; priority 50; no expiry.
  grant?: GrantTerms;
  // The service clock's now: decides which grants have expired (default: the database's now()).
  at?: Date;
}

export const holdStatuses = ["open", "captured", "released", "expired"] as const;
export type HoldStatus = (typeof holdStatuses)[number];

export interface Hold {
  id: string;
  userId: string;
  amount: number;
  capturedAmount: number | null;
  // Taken back by a refund or dispute while the hold was open: never captured, never returned.
  clawedBack: number;
  status: HoldStatus;
  idempotencyKey: string;
  expiresAt: Date;
  createdAt: Date;
  settledAt: Date | null;
}

export interface LedgerQuery extends PageQuery {
  userId: string;
}

// A page of one user's history: its filters, order and size.
export interface PageQuery {
  limit: number;
  after?: Cursor;
  kinds?: LedgerKind[];
  from?: Date;
  to?: Date;
  order: "asc" | "desc";
}

// What the balance-and-history reads answer of a ledger row and of a live grant: the one-statement
// read fetches only these (issue 17: the other columns were a third of its JSON, parsed per request
// and dropped by the answer's mappers).
export type AccountEntry = Pick<
  LedgerEntry,
  "id" | "seq" | "kind" | "amount" | "balanceAfter" | "reason" | "paymentId" | "holdId" | "createdAt" | "allocations"
>;
export type AccountGrant = Pick<CreditGrant, "id" | "category" | "priority" | "remaining" | "expiresAt" | "createdAt">;

export interface AccountView {
  balance: number;
  grants: AccountGrant[];
  entries: AccountEntry[];
}

export interface BalanceView {
  balance: number;
  nextExpiry: { amount: number; at: Date } | null;
}

// A read of a session's own user with the session and the user found in the same statement.
export type OfSession<T> = FoundSession & { view: T };

// The users of the daily invariant pass: those with ledger rows after `afterSeq`, up to and
// including `upToSeq` (their rows after `afterSeq` checked, chained from the last one at or below
// it), and the users the last pass found in violation (the flagged set, kept by the store whether
// or not their finding was reported: checked from their first row until found clean).
export interface TouchedUsers {
  afterSeq: number;
  upToSeq: number;
}

export interface InvariantCheck {
  usersChecked: number;
  // Every user found in violation, listed or not.
  violationsFound: number;
  // At most the limit asked for: the users never reported first, then the least recently reported.
  violations: InvariantViolation[];
}

export interface InvariantViolation {
  userId: string;
  balance: number;
  // What the ledger says the balance is: the sum of the user's rows (full pass), the newest row's
  // balance_after (daily pass: the chain from the checkpoint makes it that sum).
  ledgerSum: number;
  // The seq of the first row whose balance_after is not the previous row's plus its amount (a
  // break an admin acknowledged, that jump at that row, excepted).
  chainBrokenAtSeq: number | null;
  // The user's grants' remainders, swept or not: greatest(balance, 0) when consistent.
  grantsRemaining: number;
  // Set when a grant's remainder is not what its allocations say, or a row moved grants by other
  // than its amount (a user never in debt).
  grantsInconsistent: boolean;
  // Set when the balance is below zero without the dispute flag that allows it.
  negativeWithoutDispute: boolean;
}

// The port the credit service needs from storage. Implemented in packages/db.
export interface LedgerStore {
  // Runs `work` in one database transaction; a store method called on the given store joins it.
  transaction<T>(work: (tx: LedgerStore) => Promise<T>): Promise<T>;
  // Applies a posting in one atomic step; null when the user does not exist or the balance would
  // go below zero. Throws when the idempotency key is taken (see findEntryByKey).
  post(posting: Posting): Promise<LedgerEntry | null>;
  findEntryByKey(idempotencyKey: string): Promise<LedgerEntry | null>;
  isKeyConflict(error: unknown): boolean;
  // The balance at `at` (default: now): grants past their expiry are already gone from it, swept
  // or not.
  getBalance(userId: string, at?: Date): Promise<number | null>;
  // Inside a transaction: the balance, its row locked until the transaction ends (a posting decided
  // from it cannot be overtaken); null when there is no such user.
  lockBalance(userId: string, at?: Date): Promise<number | null>;
  // Live grants at `at`, in spending order.
  listGrants(userId: string, at: Date): Promise<CreditGrant[]>;
  // Live and past grants, newest first.
  grantHistory(userId: string, limit: number): Promise<CreditGrant[]>;
  // The grant a credit's ledger row created (null for a row that created none).
  findGrantByEntry(entryId: string): Promise<CreditGrant | null>;
  // The credits of a payment's grants that expired by `at`: the expiry rows' takes from them and
  // what is left in those past their expiry that no posting or sweep has recorded yet.
  expiredOfPayment(userId: string, paymentId: string, at: Date): Promise<number>;
  // What a payment's refund (or dispute) clawbacks took from the payment's own grants, net of what
  // their reversals gave back to them: the rest of what they took came from the user's other grants.
  takenFromPaymentGrants(userId: string, paymentId: string, cause: "refund" | "dispute"): Promise<number>;
  // Records the expiry of grants due at `at`, for at most `maxUsers` owners locked in id order
  // (owners another sweeper holds are skipped); returns how many owners it handled.
  expireDueGrants(at: Date, maxUsers: number): Promise<number>;
  listEntries(query: LedgerQuery): Promise<LedgerEntry[]>;
  // The reads a product makes most, each in one statement (one round trip), at `at`; null when
  // there is no such user. The balance, the live grants in spending order and a page of entries:
  readAccount(query: LedgerQuery, at: Date): Promise<AccountView | null>;
  // The balance and the next expiry (what the earliest-expiring live grants take, and when):
  readBalance(userId: string, at: Date): Promise<BalanceView | null>;
  // The same two reads of the user of a session (by its stored id), the session and its user
  // found in the same statement; null when there is no such session (the caller validates it).
  readAccountOfSession(sessionId: string, query: PageQuery, at: Date): Promise<OfSession<AccountView> | null>;
  readBalanceOfSession(sessionId: string, at: Date): Promise<OfSession<BalanceView> | null>;
  // Inserts an open hold; null when the idempotency key is already taken.
  insertHold(hold: {
    id: string;
    userId: string;
    amount: number;
    idempotencyKey: string;
    expiresAt: Date;
  }): Promise<Hold | null>;
  findHold(id: string): Promise<Hold | null>;
  findHoldByKey(idempotencyKey: string): Promise<Hold | null>;
  // A user's holds, newest first.
  listHolds(userId: string, limit: number): Promise<Hold[]>;
  // Moves an open hold to its final status in one conditional statement; null when it was not open
  // (or, for a capture, had expired by `now`).
  settleHold(
    id: string,
    settlement: { status: Exclude<HoldStatus, "open">; capturedAmount: number | null; now: Date },
  ): Promise<Hold | null>;
  // A user's open holds, oldest first, locked for this transaction (after the balance row).
  lockOpenHolds(userId: string, limit: number): Promise<Hold[]>;
  // Takes `amount` out of an open hold for a clawback; a hold left with nothing is released.
  clawBackHold(id: string, amount: number, now: Date): Promise<Hold | null>;
  // Open holds past their expiry, locked for this transaction and skipped by concurrent sweepers.
  lockExpiredHolds(now: Date, limit: number): Promise<Hold[]>;
  // Every user, or only those with ledger rows in `touched` and the flagged set (the daily pass,
  // ADR 012). With `flag` (reconciliation's ledger step), the flagged set becomes this check's
  // violators: every one, not only the `limit` listed.
  findInvariantViolations(limit: number, touched?: TouchedUsers, options?: { flag?: boolean }): Promise<InvariantCheck>;
  // A ledger seq at or below which every row is final (committed or rolled back): `settled` is
  // false when postings open at the time did not end within a bounded wait.
  ledgerWatermark(): Promise<{ seq: number; settled: boolean }>;
}
