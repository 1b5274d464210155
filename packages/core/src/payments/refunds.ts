import { type Clock, systemClock } from "../clock.ts";
import {
  ForbiddenError,
  IdempotencyConflictError,
  InvalidInputError,
  InvalidStateError,
  NotFoundError,
} from "../errors.ts";
import { clientKey } from "../ledger-keys.ts";
import { MAX_PAGE_SIZE } from "../limits.ts";
import { withRetry } from "../retry.ts";
import { assertIdempotencyKey, assertReason } from "../validate.ts";
import { auditRefund, type InTransaction, type RefundDeps, refundSender, type Tx } from "./refund-sender.ts";
import type { Refund } from "./refund-store.ts";
import { chargedMinor } from "./state.ts";
import type { Payment } from "./store.ts";

// The largest refund anyone can ask for, in minor units: far above any payment, far below 2^53.
export const MAX_REFUND_MINOR = 1_000_000_000_000;
// A request still waiting for the provider's answer this long after it was sent lost it (a call
// takes seconds): reconciliation looks for the provider's record of it.
export const UNANSWERED_REFUND_AFTER_MS = 10 * 60_000;

export interface RefundInput {
  actorId: string;
  paymentId: string;
  // Minor units; omitted: all that is left to refund.
  amountMinor?: number;
  reason: string;
  idempotencyKey: string;
  requestId?: string | null;
}

export type RefundService = ReturnType<typeof createRefundService>;

// Refunds from the admin panel and API: a row per request (the record of who asked, who approved,
// and the provider's refund id), the provider's refund API, and a second admin above the
// per-currency threshold. Credits are never clawed back here directly: the provider's answer is
// applied as the same fact its charge.refunded event reports (`applyRefundLocked`), so whichever of
// the two arrives first claws back, once (ADR 016).
export function createRefundService(deps: RefundDeps) {
  const { store } = deps;
  const clock = deps.clock ?? systemClock;
  const inTransaction = <T>(work: (tx: Tx) => Promise<T>) => withRetry(() => store.transaction(work));
  const { issue, settleFromProvider } = refundSender(deps, clock, inTransaction);
  const decisions = refundDecisions(clock, inTransaction, issue);

  const refundsOf = (paymentIds: string[]) =>
    paymentIds.length === 0 ? Promise.resolve([]) : store.refunds.listRefunds({ paymentIds, limit: MAX_PAGE_SIZE });

  async function refund(input: RefundInput): Promise<Refund> {
    assertRefundInput(input);
    const key = clientKey({ kind: "user", id: input.actorId }, input.idempotencyKey).key;
    // An expired request holds nothing: marked so before counting what is left.
    await decisions.expirePending();
    const filed = await inTransaction(async (tx) => {
      const payment = await tx.payments.lockPayment(input.paymentId);
      if (!payment) throw new NotFoundError("payment");
      const earlier = await tx.refunds.findRefundByKey(key);
      if (earlier) return sameRequest(earlier, input);
      const blocker = refundBlocker(payment);
      if (blocker) throw new InvalidStateError(blocker);
      const remaining = refundableMinor(payment, await tx.refunds.inFlightMinor(payment.id));
      const amount = input.amountMinor ?? remaining;
      assertWithin(payment, amount, remaining);
      // Money back to oneself always takes a second admin, as crediting oneself does. The
      // threshold bounds a payment's refunds in all (refunded, waiting and this one), so a large
      // refund split into small ones still needs a second admin.
      const threshold = deps.approvalThresholds[payment.currency] ?? 0;
      const alreadyMinor = chargedMinor(payment) - remaining;
      const needsApproval = alreadyMinor + amount > threshold || payment.userId === input.actorId;
      const created = await tx.refunds.insertRefund({
        paymentId: payment.id,
        userId: payment.userId,
        amountMinor: amount,
        currency: payment.currency,
        reason: input.reason.trim(),
        idempotencyKey: key,
        status: needsApproval ? "pending" : "processing",
        requestedBy: input.actorId,
        expiresAt: new Date(clock.now().getTime() + deps.approvalTtlMs),
      });
      // The payment's row lock serializes requests for it, so the key cannot be taken since.
      if (!created) throw new IdempotencyConflictError();
      await auditRefund(tx, created, input.actorId, "refund_requested", input.requestId);
      return created;
    });
    // Also a retry of a request the provider had not answered: sent again, under the same key.
    return filed.status === "processing" ? issue(filed, input.requestId) : filed;
  }

  return {
    refund,
    ...decisions,
    pendingRefunds: async () => {
      await decisions.expirePending();
      return store.refunds.listRefunds({ status: "pending", limit: MAX_PAGE_SIZE });
    },
    refundsOf,
    // For reconciliation: requests sent to the provider over UNANSWERED_REFUND_AFTER_MS ago whose
    // answer was never recorded, oldest first (a page a run), and each one settled from the
    // provider's own record of it.
    unansweredRefunds: () =>
      store.refunds.listUnanswered({
        sentBefore: new Date(clock.now().getTime() - UNANSWERED_REFUND_AFTER_MS),
        limit: MAX_PAGE_SIZE,
      }),
    settleFromProvider,
    // The erasure worker's send of an erasure refund (ADR 025) filed when its payment was credited:
    // under the row's own key, so a retry after a lost answer is the same refund; one settled
    // meanwhile (answered, or by reconciliation) is not sent again. "refund_failed": the provider
    // refused it, or reconciliation closed it unanswered: the worker reports it for a person.
    async sendErasureRefund(refundId: string): Promise<"done" | "refund_failed"> {
      const found = await store.refunds.findRefund(refundId);
      if (found?.origin !== "erasure") return "done";
      const refund = found.status === "processing" ? await issue(found) : found;
      return refund.status === "failed" ? "refund_failed" : "done";
    },
    // The admin's view of a user's payments: each one's refunds (newest first, a page of them)
    // and what is left to refund on it, from a sum in the database over all its requests in
    // flight (the page may not hold them all). Shown only: a refund is checked again under the
    // payment's lock. Expired requests are marked so first, as for the approvals queue: shown as
    // pending, they would still seem to hold their amount.
    async refundsOfPayments(payments: Payment[]): Promise<PaymentRefunds[]> {
      await decisions.expirePending();
      const ids = payments.map((p) => p.id);
      const [refunds, inFlight] = await Promise.all([refundsOf(ids), store.refunds.inFlightMinorOf(ids)]);
      return payments.map((payment) => ({
        payment,
        refunds: refunds.filter((r) => r.paymentId === payment.id),
        refundableMinor: refundableMinor(payment, inFlight.get(payment.id) ?? 0),
      }));
    },
  };
}

function assertRefundInput(input: RefundInput): void {
  const { amountMinor } = input;
  if (
    amountMinor !== undefined &&
    (!Number.isSafeInteger(amountMinor) || amountMinor < 1 || amountMinor > MAX_REFUND_MINOR)
  ) {
    throw new InvalidInputError(`amount must be an integer number of minor units from 1 to ${MAX_REFUND_MINOR}`);
  }
  assertReason(input.reason, { required: true });
  assertIdempotencyKey(input.idempotencyKey);
}

function sameRequest(earlier: Refund, input: RefundInput): Refund {
  const same =
    earlier.paymentId === input.paymentId &&
    earlier.reason === input.reason.trim() &&
    (input.amountMinor === undefined || earlier.amountMinor === input.amountMinor);
  if (!same) throw new IdempotencyConflictError();
  return earlier;
}

export interface PaymentRefunds {
  payment: Payment;
  refunds: Refund[];
  refundableMinor: number;
}

// Why a payment cannot be refunded at all, or null: only a paid, undisputed payment that charged
// something can be. One a promotion code made free has no charge at the provider to refund (409,
// INVALID_STATE, before anything is recorded or sent).
export function refundBlocker(payment: Payment): string | null {
  if (payment.creditedAt && chargedMinor(payment) === 0) {
    return "nothing was charged for this payment (a promotion code took the whole price): there is nothing to refund";
  }
  if (!payment.creditedAt || !payment.providerPaymentIntentId) {
    return `payment is ${payment.status}: only a paid payment can be refunded`;
  }
  if (payment.disputeStatus === "open" || payment.disputeStatus === "lost")
    return "a disputed payment cannot be refunded";
  return null;
}

// What can still be refunded, in minor units: what was actually paid (after a promotion code, with
// tax), less what the provider reports refunded and what our own requests (waiting for approval
// or for the provider) already hold; 0 for a payment that cannot be refunded.
export function refundableMinor(payment: Payment, inFlightMinor: number): number {
  if (refundBlocker(payment)) return 0;
  return Math.max(0, chargedMinor(payment) - payment.amountRefundedMinor - inFlightMinor);
}

function assertWithin(payment: Payment, amount: number, remaining: number): void {
  if (remaining <= 0) throw new InvalidStateError("nothing is left to refund on this payment");
  if (amount > remaining) {
    throw new InvalidStateError(
      `the refund (${amount}) is more than is left to refund (${remaining} ${payment.currency})`,
    );
  }
}

// A second admin approves or rejects, as for adjustments: never the requester nor the payee, once.
function refundDecisions(
  clock: Clock,
  inTransaction: InTransaction,
  issue: (refund: Refund, requestId?: string | null) => Promise<Refund>,
) {
  // Decides a pending refund, or recognises the same decision sent again by the same admin.
  async function decide(tx: Tx, id: string, actorId: string, status: "processing" | "rejected") {
    const found = await tx.refunds.findRefund(id);
    if (!found) throw new NotFoundError("refund");
    if (found.requestedBy === actorId) throw new ForbiddenError("you cannot decide your own refund request");
    if (found.userId === actorId) throw new ForbiddenError("you cannot decide a refund whose money goes to you");
    const decided = await tx.refunds.decideRefund(id, { status, decidedBy: actorId, now: clock.now() });
    if (decided) return { refund: decided, fresh: true };
    const current = (await tx.refunds.findRefund(id)) ?? found;
    const approved = status === "processing" && ["processing", "succeeded", "failed"].includes(current.status);
    if (current.decidedBy === actorId && (approved || current.status === status)) {
      return { refund: current, fresh: false };
    }
    const state =
      current.status === "pending" ? "expired" : current.status === "processing" ? "approved" : current.status;
    throw new InvalidStateError(`refund request is ${state}`);
  }

  type Decision = { refundId: string; actorId: string; requestId?: string | null };
  return {
    // The refund goes to the provider once, however often approve is sent.
    async approve(input: Decision): Promise<Refund> {
      const refund = await inTransaction(async (tx) => {
        const decided = await decide(tx, input.refundId, input.actorId, "processing");
        if (decided.fresh) await auditRefund(tx, decided.refund, input.actorId, "refund_approved", input.requestId);
        return decided.refund;
      });
      // Also the same approval sent again while the provider had not answered: sent again, same key.
      return refund.status === "processing" ? issue(refund, input.requestId) : refund;
    },
    async reject(input: Decision): Promise<Refund> {
      return inTransaction(async (tx) => {
        const { refund, fresh } = await decide(tx, input.refundId, input.actorId, "rejected");
        if (fresh) await auditRefund(tx, refund, input.actorId, "refund_rejected", input.requestId);
        return refund;
      });
    },
    async expirePending(): Promise<number> {
      return inTransaction(async (tx) => {
        const expired = await tx.refunds.expireRefunds(clock.now());
        for (const refund of expired) await auditRefund(tx, refund, null, "refund_expired", null);
        return expired.length;
      });
    },
  };
}
