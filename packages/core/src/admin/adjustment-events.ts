import type { OutboxStore } from "../events/events.ts";
import type { AdjustmentRequest } from "./store.ts";

// The events of an adjustment request, written in the transaction that files or decides it
// (whichever path filed it: the panel, REST, tRPC, an API key or the CLI).
export const emitAdjustmentPending = (outbox: OutboxStore, request: AdjustmentRequest) =>
  outbox.emit({
    type: "adjustment.pending",
    userId: request.targetUserId,
    data: {
      adjustmentRequestId: request.id,
      userId: request.targetUserId,
      amount: request.amount,
      requestedBy: request.requestedBy,
      expiresAt: request.expiresAt.toISOString(),
    },
  });

export const emitAdjustmentDecided = (
  outbox: OutboxStore,
  request: AdjustmentRequest,
  decision: "approved" | "rejected" | "expired",
  transactionId: string | null,
) =>
  outbox.emit({
    type: "adjustment.decided",
    userId: request.targetUserId,
    data: {
      adjustmentRequestId: request.id,
      userId: request.targetUserId,
      amount: request.amount,
      decision,
      decidedBy: request.decidedBy,
      transactionId,
    },
  });
