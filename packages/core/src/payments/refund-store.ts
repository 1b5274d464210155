import type { NewAdminAction } from "../admin/store.ts";

// A refund an admin asked for: waiting for a second admin (`pending`), being sent to the provider
// (`processing`), accepted by it (`succeeded`: the provider's refund id is known), or closed
// without money moving (`failed`: the provider refused; `rejected`; `expired`).
export const refundStatuses = ["pending", "processing", "succeeded", "failed", "rejected", "expired"] as const;
export type RefundStatus = (typeof refundStatuses)[number];
// Who asked: an admin (the panel, the API), or the system refunding in full a payment completed
// after its user was erased (ADR 025; the database admits that origin for nothing else).
export const refundOrigins = ["admin", "erasure"] as const;
export type RefundOrigin = (typeof refundOrigins)[number];
// The provider's words when it refuses or fails a refund, as stored and shown: bounded.
export const MAX_FAILURE_LENGTH = 300;
// Statuses whose amount is committed but not yet made by the provider (a succeeded refund's may not
// be in the payment's refunded amount yet either: inFlightMinor).
export const IN_FLIGHT_REFUND_STATUSES: readonly RefundStatus[] = ["pending", "processing"];

// Our refunds a report of the payment names (a listing from the provider, our own answer): by our
// row id (the refund's metadata, before its answer recorded the provider's id) or the provider's id.
export interface CountedRefunds {
  ids: string[];
  providerRefundIds: string[];
}

export interface Refund {
  id: string;
  paymentId: string;
  // The payment's owner: the person the money goes back to.
  userId: string;
  amountMinor: number;
  currency: string;
  reason: string;
  // The requesting admin's key, scoped to that admin (ledger-keys.ts clientKey).
  idempotencyKey: string;
  status: RefundStatus;
  origin: RefundOrigin;
  // The requesting admin; for an erasure refund, the payee (no admin asked: the erasure did).
  requestedBy: string;
  // The second admin, for a refund above the approval threshold.
  decidedBy: string | null;
  decidedAt: Date | null;
  expiresAt: Date;
  providerRefundId: string | null;
  // Why the provider refused it (its own words, bounded).
  failureReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export type NewRefund = Pick<
  Refund,
  | "paymentId"
  | "userId"
  | "amountMinor"
  | "currency"
  | "reason"
  | "idempotencyKey"
  | "status"
  | "requestedBy"
  | "expiresAt"
> &
  Partial<Pick<Refund, "origin">>;

export type RefundPatch = Partial<Pick<Refund, "status" | "providerRefundId" | "failureReason">>;

export interface RefundStore {
  // Null when the idempotency key is taken.
  insertRefund(refund: NewRefund): Promise<Refund | null>;
  findRefund(id: string): Promise<Refund | null>;
  findRefundByKey(idempotencyKey: string): Promise<Refund | null>;
  lockRefund(id: string): Promise<Refund | null>;
  updateRefund(id: string, patch: RefundPatch): Promise<Refund>;
  // pending → approved (processing) or rejected in one conditional statement: only before it
  // expires, never by its requester nor by the person the money goes to; null otherwise.
  decideRefund(
    id: string,
    decision: { status: "processing" | "rejected"; decidedBy: string; now: Date },
  ): Promise<Refund | null>;
  expireRefunds(now: Date): Promise<Refund[]>;
  // What the payment's refunds hold beyond its refunded amount, in minor units: those waiting for
  // approval, for the provider, or made by it (succeeded) that the refunded amount is not known to
  // count (its report not applied: the provider's refund list could not be read, ADR 016). The
  // amount is a total that names no refunds (a dashboard refund is in it, in no row), so each row
  // records whether it is counted (`markCounted`), never inferred from the sums (review 10 F5).
  inFlightMinor(paymentId: string): Promise<number>;
  // The same for several payments in one statement (a payment with none is absent).
  inFlightMinorOf(paymentIds: string[]): Promise<Map<string, number>>;
  listRefunds(query: { paymentIds?: string[]; status?: RefundStatus; limit: number }): Promise<Refund[]>;
  // Requests sent to the provider (`processing`) first sent (approved, or filed) at or before
  // `sentBefore`, oldest first.
  listUnanswered(query: { sentBefore: Date; limit: number }): Promise<Refund[]>;
  // Records that a provider refund failed (or was canceled); false when it was recorded before.
  recordRefundFailure(failure: {
    providerRefundId: string;
    paymentId: string;
    amountMinor: number;
    status: "failed" | "canceled";
  }): Promise<boolean>;
  // The payment's provider refunds recorded failed or canceled (at most MAX_REFUNDS_LISTED). Any at
  // all: its charge's cumulative refunded amount no longer says what it refunded (ADR 016); and
  // the provider's refund list, which may lag, must not count these again.
  failedRefundIds(paymentId: string): Promise<string[]>;
  // Under the payment's lock, its refunded amount just set from a report naming `counted`: marks
  // those of its refunds counted. `only`: the amount is exactly what the named refunds add up to
  // (it went down), so every other one is unmarked: counted beyond it again until a report names it.
  markCounted(paymentId: string, counted: CountedRefunds, only: boolean): Promise<void>;
  // Queues an erasure refund for the erasure worker to send (provider_erasure_tasks), in the
  // transaction that filed it.
  queueErasureRefund(refund: Pick<Refund, "id" | "userId">): Promise<void>;
  // The audit row of a refund step, in the same transaction as the step.
  audit(action: NewAdminAction): Promise<void>;
}
