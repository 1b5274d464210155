import { randomUUID } from "node:crypto";
import { type Clock, systemClock } from "../clock.ts";
import {
  ForbiddenError,
  IdempotencyConflictError,
  InsufficientCreditsError,
  InvalidInputError,
  InvalidStateError,
  NotFoundError,
} from "../errors.ts";
import {
  assertNewGrantExpiry,
  assertNotExpired,
  creditTerms,
  type GrantTermsInput,
  sameOptionalTerms,
  sameTermsAsApplied,
} from "../grant-terms.ts";
import type { GrantTerms } from "../grants.ts";
import { invariant } from "../invariant.ts";
import type { LedgerEntry, LedgerStore } from "../ledger.ts";
import { type ClientKey, clientKey, systemKey } from "../ledger-keys.ts";
import { MAX_CREDITS_PER_OPERATION, MAX_PAGE_SIZE } from "../limits.ts";
import { withRetry } from "../retry.ts";
import { assertIdempotencyKey, assertReason, pageLimit } from "../validate.ts";
import { emitAdjustmentDecided, emitAdjustmentPending } from "./adjustment-events.ts";
import { exceedsApprovalWindow } from "./approval-window.ts";
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

// Admin adjustments under audit, with a two-person rule above the approval threshold.
export function createAdminService(deps: {
  store: AdminStore;
  clock?: Clock;
  approvalThreshold: number;
  approvalTtlMs: number;
  // The approval threshold bounds a user's unapproved adjustments within this window in all.
  approvalWindowMs: number;
}) {
  const { store } = deps;
  const clock = deps.clock ?? systemClock;
  const inTransaction = <T>(work: (tx: AdminTx) => Promise<T>) => withRetry(() => store.transaction(work));

  async function adjust(input: AdjustInput): Promise<AdjustResult> {
    if (
      !Number.isSafeInteger(input.amount) ||
      input.amount === 0 ||
      Math.abs(input.amount) > MAX_CREDITS_PER_OPERATION
    ) {
      throw new InvalidInputError(`amount must be a non-zero integer within ±${MAX_CREDITS_PER_OPERATION}`);
    }
    assertReason(input.reason, { required: true });
    assertIdempotencyKey(input.idempotencyKey);
    const terms = creditTerms("admin_adjustment", input.amount, input.terms);
    // An admin's keys are scoped to that admin (ledger-keys.ts).
    const key = clientKey({ kind: "user", id: input.actorId }, input.idempotencyKey);
    // Crediting oneself always takes a second admin, whatever the amount (as a key's grant to its
    // own owner does): no one mints credits for themself alone.
    const selfCredit = input.userId === input.actorId && input.amount > 0;
    if (selfCredit || Math.abs(input.amount) > deps.approvalThreshold) return requestApproval(input, key, terms);
    return inTransaction(async (tx) => {
      // Under the balance lock, as requests are filed: a retry of a request this key filed under a
      // lower threshold (another process's environment, a deploy since) is that request again.
      if ((await tx.ledger.lockBalance(input.userId)) === null) throw new NotFoundError("user");
      const filed = await filedRequest(tx.admin, key);
      if (filed) return sameRequest(tx.ledger, filed, input, terms);
      // A retry of an applied adjustment is answered by apply; a new one may add up past the threshold.
      const applied = (await tx.ledger.findEntryByKey(key.key)) ?? (await tx.ledger.findEntryByKey(key.legacy));
      if (!applied && (await exceedsApprovalWindow(tx.admin, input, deps))) {
        return fileRequest(tx, input, key, terms);
      }
      return apply(tx, {
        ...input,
        terms,
        ledgerKey: key.key,
        legacyKey: key.legacy,
        action: "adjust",
        adjustmentRequestId: null,
        reason: input.reason.trim(),
        checkTerms: assertNewGrantExpiry,
      });
    });
  }

  const filedRequest = async (admin: AdminStore, key: ClientKey) =>
    (await admin.findAdjustmentRequestByKey(key.key)) ?? (await admin.findAdjustmentRequestByKey(key.legacy));

  // A retry of a filed request: what became of it (filed-request.ts), or a conflict.
  function sameRequest(
    ledger: LedgerStore,
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

  async function requestApproval(input: AdjustInput, key: ClientKey, terms: GrantTerms | null): Promise<AdjustResult> {
    return inTransaction(async (tx) => {
      if ((await tx.ledger.lockBalance(input.userId)) === null) throw new NotFoundError("user");
      return fileRequest(tx, input, key, terms);
    });
  }

  // Under the user's balance lock.
  async function fileRequest(
    tx: AdminTx,
    input: AdjustInput,
    key: ClientKey,
    terms: GrantTerms | null,
  ): Promise<AdjustResult> {
    // Applied at once under a higher threshold before: that adjustment, not also a request.
    const applied = (await tx.ledger.findEntryByKey(key.key)) ?? (await tx.ledger.findEntryByKey(key.legacy));
    if (applied) return replayOf(tx.ledger, applied, { ...input, reason: input.reason.trim(), terms });
    // A request made before keys were scoped answers its retries (never written to any more).
    const filed = await filedRequest(tx.admin, key);
    if (filed) return sameRequest(tx.ledger, filed, input, terms);
    assertNewGrantExpiry(terms, clock.now());
    const created = await tx.admin.insertAdjustmentRequest({
      requestedBy: input.actorId,
      targetUserId: input.userId,
      amount: input.amount,
      reason: input.reason.trim(),
      idempotencyKey: key.key,
      expiresAt: new Date(clock.now().getTime() + deps.approvalTtlMs),
      ...termColumns(terms),
    });
    if (!created) {
      const existing = await tx.admin.findAdjustmentRequestByKey(key.key);
      if (!existing) throw new IdempotencyConflictError();
      return sameRequest(tx.ledger, existing, input, terms);
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

  // The balance change, its ledger row and its audit row in one transaction, with the balance
  // row locked so the audit's before/after are exact. A retry finds the ledger row by its key and
  // answers it again without a second audit row.
  async function apply(
    tx: AdminTx,
    input: Omit<AdjustInput, "idempotencyKey" | "terms"> & {
      terms: GrantTerms | null;
      ledgerKey: string;
      legacyKey?: string;
      action: string;
      adjustmentRequestId: string | null;
      // After the replay lookup: a new adjustment's expiry must be ahead (400), an approved
      // request's must not have passed (409).
      checkTerms: (terms: GrantTerms, now: Date) => void;
    },
  ): Promise<AdjustResult> {
    const now = clock.now();
    const before = await tx.ledger.lockBalance(input.userId, now);
    if (before === null) throw new NotFoundError("user");
    const replay =
      (await tx.ledger.findEntryByKey(input.ledgerKey)) ??
      (input.legacyKey ? await tx.ledger.findEntryByKey(input.legacyKey) : null);
    if (replay) return replayOf(tx.ledger, replay, input);
    // Only a debit can overdraw; a credit also reaches a balance a dispute took below zero.
    if (input.amount < 0 && before + input.amount < 0) throw new InsufficientCreditsError(before, -input.amount);
    if (input.terms) input.checkTerms(input.terms, now);
    const actionId = randomUUID();
    const entry = await tx.ledger.post({
      userId: input.userId,
      amount: input.amount,
      kind: "admin_adjustment",
      idempotencyKey: input.ledgerKey,
      reason: input.reason,
      adminActionId: actionId,
      at: now,
      ...(input.terms ? { grant: input.terms } : {}),
    });
    invariant(entry, `adjustment of user ${input.userId} was not applied`);
    await tx.admin.insertAction({
      id: actionId,
      actorId: input.actorId,
      targetUserId: input.userId,
      action: input.action,
      amount: input.amount,
      reason: input.reason,
      requestId: input.requestId ?? null,
      balanceBefore: before,
      balanceAfter: entry.balanceAfter,
      adjustmentRequestId: input.adjustmentRequestId,
    });
    return { status: "applied", transactionId: entry.id, balance: entry.balanceAfter };
  }

  async function replayOf(
    ledger: LedgerStore,
    entry: LedgerEntry,
    input: { userId: string; amount: number; reason: string; terms: GrantTerms | null },
  ): Promise<AdjustResult> {
    // Client keys are shared with spends and grants: only an adjustment's own row is its replay.
    if (
      entry.kind !== "admin_adjustment" ||
      entry.userId !== input.userId ||
      entry.amount !== input.amount ||
      entry.reason !== input.reason ||
      !(await sameTermsAsApplied(ledger, entry, input.terms))
    ) {
      throw new IdempotencyConflictError();
    }
    return { status: "applied", transactionId: entry.id, balance: entry.balanceAfter };
  }

  // A second admin approves: the adjustment is applied once, however often approve is sent.
  async function approve(input: { adjustmentRequestId: string; actorId: string; requestId?: string | null }) {
    return inTransaction(async (tx) => {
      const { request, fresh } = await decide(tx.admin, input.adjustmentRequestId, input.actorId, "approved");
      const result = await apply(tx, {
        actorId: input.actorId,
        userId: request.targetUserId,
        amount: request.amount,
        reason: request.reason,
        terms: termsOfRequest(request),
        requestId: input.requestId ?? null,
        ledgerKey: systemKey.approvedAdjustment(request.id),
        action: "adjustment_approved",
        adjustmentRequestId: request.id,
        checkTerms: assertNotExpired,
      });
      if (fresh && result.status === "applied") {
        await emitAdjustmentDecided(tx.outbox, request, "approved", result.transactionId);
      }
      return result;
    });
  }

  async function reject(input: { adjustmentRequestId: string; actorId: string; requestId?: string | null }) {
    return inTransaction(async (tx) => {
      const { request, fresh } = await decide(tx.admin, input.adjustmentRequestId, input.actorId, "rejected");
      if (fresh) {
        await tx.admin.insertAction({
          actorId: input.actorId,
          targetUserId: request.targetUserId,
          action: "adjustment_rejected",
          amount: request.amount,
          reason: request.reason,
          requestId: input.requestId ?? null,
          balanceBefore: null,
          balanceAfter: null,
          adjustmentRequestId: request.id,
        });
        await emitAdjustmentDecided(tx.outbox, request, "rejected", null);
      }
      return request;
    });
  }

  // Decides a pending request, or recognises the same decision sent again by the same admin.
  async function decide(
    admin: AdminStore,
    id: string,
    actorId: string,
    status: "approved" | "rejected",
  ): Promise<{ request: AdjustmentRequest; fresh: boolean }> {
    const found = await admin.findAdjustmentRequest(id);
    if (!found) throw new NotFoundError("adjustment request");
    if (found.requestedBy === actorId) throw new ForbiddenError("you cannot decide your own adjustment request");
    // Nor one that pays you: the second person must gain nothing from the decision.
    if (found.targetUserId === actorId) {
      throw new ForbiddenError("you cannot decide an adjustment request whose beneficiary is you");
    }
    const decided = await admin.decideAdjustmentRequest(id, { status, decidedBy: actorId, now: clock.now() });
    if (decided) return { request: decided, fresh: true };
    const current = (await admin.findAdjustmentRequest(id)) ?? found;
    if (current.status === status && current.decidedBy === actorId) return { request: current, fresh: false };
    const state = current.status === "pending" ? "expired" : current.status;
    throw new InvalidStateError(`adjustment request is ${state}`);
  }

  // Each expiry and its audit row commit together.
  async function expirePending(): Promise<number> {
    return inTransaction(async (tx) => {
      const expired = await tx.admin.expireAdjustmentRequests(clock.now());
      for (const request of expired) {
        await tx.admin.insertAction({
          actorId: null,
          targetUserId: request.targetUserId,
          action: "adjustment_expired",
          amount: request.amount,
          reason: request.reason,
          requestId: null,
          balanceBefore: null,
          balanceAfter: null,
          adjustmentRequestId: request.id,
        });
        await emitAdjustmentDecided(tx.outbox, request, "expired", null);
      }
      return expired.length;
    });
  }

  async function auditLog(query: Omit<AuditQuery, "limit"> & { limit?: number }): Promise<AdminAction[]> {
    return store.listActions({ ...query, limit: pageLimit(query.limit, 50) });
  }

  return {
    adjust,
    approve,
    reject,
    expirePending,
    auditLog,
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
