import { type Clock, systemClock } from "../clock.ts";
import { IdempotencyConflictError, InvalidInputError, NotFoundError } from "../errors.ts";
import { assertNewGrantExpiry, creditTerms, type GrantTermsInput, sameOptionalTerms } from "../grant-terms.ts";
import type { GrantTerms } from "../grants.ts";
import type { LedgerStore } from "../ledger.ts";
import { type ClientKey, clientKey } from "../ledger-keys.ts";
import { MAX_CREDITS_PER_OPERATION, MAX_PAGE_SIZE } from "../limits.ts";
import { withRetry } from "../retry.ts";
import { assertIdempotencyKey, assertReason, pageLimit, sameId } from "../validate.ts";
import { emitAdjustmentPending } from "./adjustment-events.ts";
import { applyAdjustment, replayOfAdjustment } from "./apply-adjustment.ts";
import { exceedsApprovalWindow } from "./approval-window.ts";
import { approveRequest, type DecisionInput, expireRequests, rejectRequest } from "./decisions.ts";
import { type AdjustResult, answerOfFiled } from "./filed-request.ts";
import { termColumns, termsOfRequest } from "./request-terms.ts";
import type { AdjustmentRequest, AdminAction, AdminStore, AdminTx, AuditQuery, NewAdminAction } from "./store.ts";

export interface AdjustInput {
  actorId: string;
  userId: string;
  // Signed: a credit or a debit. A debit never takes a balance below zero.
  amount: number;
  reason: string;
  idempotencyKey: string;
  requestId?: string | null;
  // For a credit: the grant it creates (category, priority, expiresAt); a debit takes none.
  terms?: GrantTermsInput;
}

export type { AdjustResult };

export type AdminService = ReturnType<typeof createAdminService>;

// The approval rule an adjustment is held to: the two-person threshold, how long a request waits,
// and the window its unapproved adjustments add up in.
interface ApprovalRules {
  clock: Clock;
  approvalThreshold: number;
  approvalTtlMs: number;
  // The approval threshold bounds a user's unapproved adjustments within this window in all.
  approvalWindowMs: number;
}

// Admin adjustments under audit, with a two-person rule above the approval threshold.
export function createAdminService(deps: Omit<ApprovalRules, "clock"> & { store: AdminStore; clock?: Clock }) {
  const { store } = deps;
  const rules: ApprovalRules = { ...deps, clock: deps.clock ?? systemClock };
  const { clock } = rules;
  const inTransaction = <T>(work: (tx: AdminTx) => Promise<T>) => withRetry(() => store.transaction(work));
  const expirePending = () => inTransaction((tx) => expireRequests(tx, clock));

  return {
    adjust: (input: AdjustInput) => adjust(rules, inTransaction, input),
    approve: (input: DecisionInput) => inTransaction((tx) => approveRequest(tx, clock, input)),
    reject: (input: DecisionInput) => inTransaction((tx) => rejectRequest(tx, clock, input)),
    expirePending,
    auditLog: (query: Omit<AuditQuery, "limit"> & { limit?: number }): Promise<AdminAction[]> =>
      store.listActions({ ...query, limit: pageLimit(query.limit, 50) }),
    pendingApprovals: async () => {
      await expirePending();
      return store.listAdjustmentRequests({ status: "pending", limit: MAX_PAGE_SIZE });
    },
    searchUsers: (query: string) => store.searchUsers(query.trim().toLowerCase(), 20),
    userSummary: async (userId: string) => {
      const user = await store.getUserSummary(userId);
      if (!user) throw new NotFoundError("user");
      return user;
    },
    dailyTotals: (from: Date, to: Date) => {
      if (from > to || to.getTime() - from.getTime() > 366 * 86_400_000) {
        throw new InvalidInputError("the range must be at most a year, from before to");
      }
      return store.dailyTotals(from, to);
    },
    // Records an admin action that changes no balance (API keys, erasure, reconciliation).
    record: (action: NewAdminAction) => store.insertAction(action),
  };
}

type InTransaction = <T>(work: (tx: AdminTx) => Promise<T>) => Promise<T>;

async function adjust(rules: ApprovalRules, inTransaction: InTransaction, input: AdjustInput): Promise<AdjustResult> {
  if (!Number.isSafeInteger(input.amount) || input.amount === 0 || Math.abs(input.amount) > MAX_CREDITS_PER_OPERATION) {
    throw new InvalidInputError(`amount must be a non-zero integer within ±${MAX_CREDITS_PER_OPERATION}`);
  }
  assertReason(input.reason, { required: true });
  assertIdempotencyKey(input.idempotencyKey);
  const terms = creditTerms("admin_adjustment", input.amount, input.terms);
  // An admin's keys are scoped to that admin (ledger-keys.ts).
  const key = clientKey({ kind: "user", id: input.actorId }, input.idempotencyKey);
  // Crediting oneself always takes a second admin, whatever the amount (as a key's grant to its
  // own owner does): no one mints credits for themself alone.
  const selfCredit = sameId(input.userId, input.actorId) && input.amount > 0;
  if (selfCredit || Math.abs(input.amount) > rules.approvalThreshold) {
    return inTransaction(async (tx) => {
      if ((await tx.ledger.lockBalance(input.userId)) === null) throw new NotFoundError("user");
      return fileRequest(tx, rules, input, key, terms);
    });
  }
  return inTransaction((tx) => adjustUnderThreshold(tx, rules, input, key, terms));
}

async function adjustUnderThreshold(
  tx: AdminTx,
  rules: ApprovalRules,
  input: AdjustInput,
  key: ClientKey,
  terms: GrantTerms | null,
): Promise<AdjustResult> {
  // Under the balance lock, as requests are filed: a retry of a request this key filed under a
  // lower threshold (another process's environment, a deploy since) is that request again.
  if ((await tx.ledger.lockBalance(input.userId)) === null) throw new NotFoundError("user");
  const filed = await filedRequest(tx.admin, key);
  if (filed) return sameRequest(tx.ledger, rules.clock, filed, input, terms);
  // A retry of an applied adjustment is answered by apply; a new one may add up past the threshold.
  const applied = (await tx.ledger.findEntryByKey(key.key)) ?? (await tx.ledger.findEntryByKey(key.legacy));
  if (!applied && (await exceedsApprovalWindow(tx.admin, input, rules))) {
    return fileRequest(tx, rules, input, key, terms);
  }
  return applyAdjustment(tx, rules.clock, {
    ...input,
    terms,
    ledgerKey: key.key,
    legacyKey: key.legacy,
    action: "adjust",
    adjustmentRequestId: null,
    reason: input.reason.trim(),
    checkTerms: assertNewGrantExpiry,
  });
}

const filedRequest = async (admin: AdminStore, key: ClientKey) =>
  (await admin.findAdjustmentRequestByKey(key.key)) ?? (await admin.findAdjustmentRequestByKey(key.legacy));

// A retry of a filed request: what became of it (filed-request.ts), or a conflict.
function sameRequest(
  ledger: LedgerStore,
  clock: Clock,
  existing: AdjustmentRequest,
  input: AdjustInput,
  terms: GrantTerms | null,
): Promise<AdjustResult> {
  const same =
    existing.requestedBy === input.actorId &&
    existing.targetUserId === input.userId &&
    existing.amount === input.amount &&
    existing.reason === input.reason.trim() &&
    sameOptionalTerms(termsOfRequest(existing), terms);
  if (!same) throw new IdempotencyConflictError();
  return answerOfFiled(ledger, existing, clock.now());
}

// Under the user's balance lock.
async function fileRequest(
  tx: AdminTx,
  rules: ApprovalRules,
  input: AdjustInput,
  key: ClientKey,
  terms: GrantTerms | null,
): Promise<AdjustResult> {
  const { clock } = rules;
  // Applied at once under a higher threshold before: that adjustment, not also a request.
  const applied = (await tx.ledger.findEntryByKey(key.key)) ?? (await tx.ledger.findEntryByKey(key.legacy));
  if (applied) return replayOfAdjustment(tx.ledger, applied, { ...input, reason: input.reason.trim(), terms });
  // A request made before keys were scoped answers its retries (never written to any more).
  const filed = await filedRequest(tx.admin, key);
  if (filed) return sameRequest(tx.ledger, clock, filed, input, terms);
  assertNewGrantExpiry(terms, clock.now());
  const created = await tx.admin.insertAdjustmentRequest({
    requestedBy: input.actorId,
    targetUserId: input.userId,
    amount: input.amount,
    reason: input.reason.trim(),
    idempotencyKey: key.key,
    expiresAt: new Date(clock.now().getTime() + rules.approvalTtlMs),
    ...termColumns(terms),
  });
  if (!created) {
    const existing = await tx.admin.findAdjustmentRequestByKey(key.key);
    if (!existing) throw new IdempotencyConflictError();
    return sameRequest(tx.ledger, clock, existing, input, terms);
  }
  await tx.admin.insertAction({
    actorId: input.actorId,
    targetUserId: input.userId,
    action: "adjustment_requested",
    amount: input.amount,
    reason: created.reason,
    requestId: input.requestId ?? null,
    balanceBefore: null,
    balanceAfter: null,
    adjustmentRequestId: created.id,
  });
  await emitAdjustmentPending(tx.outbox, created);
  return { status: "pending", adjustmentRequest: created };
}
