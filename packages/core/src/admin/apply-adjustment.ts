import { randomUUID } from "node:crypto";
import type { Clock } from "../clock.ts";
import { IdempotencyConflictError, InsufficientCreditsError, NotFoundError } from "../errors.ts";
import { sameTermsAsApplied } from "../grant-terms.ts";
import type { GrantTerms } from "../grants.ts";
import { invariant } from "../invariant.ts";
import type { LedgerEntry, LedgerStore } from "../ledger.ts";
import type { AuditAction } from "./audit-actions.ts";
import type { AdjustResult } from "./filed-request.ts";
import type { AdminTx } from "./store.ts";

// An adjustment ready to apply: a new one (admin.ts) or an approved request (decisions.ts).
export interface ApplyInput {
  actorId: string;
  userId: string;
  amount: number;
  reason: string;
  requestId?: string | null;
  terms: GrantTerms | null;
  ledgerKey: string;
  legacyKey?: string;
  action: Extract<AuditAction, "adjust" | "adjustment_approved">;
  adjustmentRequestId: string | null;
  // After the replay lookup: a new adjustment's expiry must be ahead (400), an approved
  // request's must not have passed (409).
  checkTerms: (terms: GrantTerms, now: Date) => void;
}

// The balance change, its ledger row and its audit row in one transaction, with the balance
// row locked so the audit's before/after are exact. A retry finds the ledger row by its key and
// answers it again without a second audit row.
export async function applyAdjustment(tx: AdminTx, clock: Clock, input: ApplyInput): Promise<AdjustResult> {
  const now = clock.now();
  const before = await tx.ledger.lockBalance(input.userId, now);
  if (before === null) throw new NotFoundError("user");
  const replay =
    (await tx.ledger.findEntryByKey(input.ledgerKey)) ??
    (input.legacyKey ? await tx.ledger.findEntryByKey(input.legacyKey) : null);
  if (replay) return replayOfAdjustment(tx.ledger, replay, input);
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

export async function replayOfAdjustment(
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
