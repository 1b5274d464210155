import type { Clock } from "../clock.ts";
import { ForbiddenError, InvalidStateError, NotFoundError } from "../errors.ts";
import { assertNotExpired } from "../grant-terms.ts";
import { systemKey } from "../ledger-keys.ts";
import { emitAdjustmentDecided } from "./adjustment-events.ts";
import { applyAdjustment } from "./apply-adjustment.ts";
import type { AdjustResult } from "./filed-request.ts";
import { termsOfRequest } from "./request-terms.ts";
import type { AdjustmentRequest, AdminStore, AdminTx } from "./store.ts";

export interface DecisionInput {
  adjustmentRequestId: string;
  actorId: string;
  requestId?: string | null;
}

// A second admin approves: the adjustment is applied once, however often approve is sent.
export async function approveRequest(tx: AdminTx, clock: Clock, input: DecisionInput): Promise<AdjustResult> {
  const { request, fresh } = await decide(tx.admin, clock, input.adjustmentRequestId, input.actorId, "approved");
  const result = await applyAdjustment(tx, clock, {
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
}

export async function rejectRequest(tx: AdminTx, clock: Clock, input: DecisionInput): Promise<AdjustmentRequest> {
  const { request, fresh } = await decide(tx.admin, clock, input.adjustmentRequestId, input.actorId, "rejected");
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
}

// Each expiry and its audit row commit together.
export async function expireRequests(tx: AdminTx, clock: Clock): Promise<number> {
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
}

// Decides a pending request, or recognises the same decision sent again by the same admin.
async function decide(
  admin: AdminStore,
  clock: Clock,
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
