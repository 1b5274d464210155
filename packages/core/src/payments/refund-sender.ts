import type { AuditAction } from "../admin/audit-actions.ts";
import type { Clock } from "../clock.ts";
import { InvalidStateError, NotFoundError, ProviderUnavailableDomainError } from "../errors.ts";
import type { OutboxStore } from "../events/events.ts";
import type { LedgerStore } from "../ledger.ts";
import {
  type ChargeInfo,
  type PaymentProvider,
  PROVIDER_IDEMPOTENCY_WINDOW_MS,
  ProviderRefusedError,
  ProviderUnavailableError,
  type RefundInfo,
} from "./provider.ts";
import { emitRefundFailed, type ListedRefunds, listAllRefundsOf, listRefundsOf } from "./refund-failures.ts";
import { MAX_FAILURE_LENGTH, type Refund, type RefundStore } from "./refund-store.ts";
import type { Payment, PaymentStore } from "./store.ts";

export interface Tx {
  payments: PaymentStore;
  ledger: LedgerStore;
  outbox: OutboxStore;
  refunds: RefundStore;
}

export type InTransaction = <T>(work: (tx: Tx) => Promise<T>) => Promise<T>;

export interface RefundDeps {
  store: PaymentStore;
  provider: PaymentProvider;
  applyRefundLocked: (
    tx: Tx,
    payment: Payment,
    charge: ChargeInfo,
    source: string,
    listed?: ListedRefunds,
    needsList?: boolean,
    own?: RefundInfo,
  ) => Promise<void>;
  // Refunds above this (per currency, minor units) wait for a second admin; a currency not listed: all do.
  approvalThresholds: Readonly<Record<string, number>>;
  approvalTtlMs: number;
  clock?: Clock;
}

type Outcome = { answer: RefundInfo } | { refused: string };

// Sends a refund the provider has not answered yet and records the answer. Its idempotency key is
// the refund row's, so a retry (or a second approval) after a timeout or a crash is the same
// refund at the provider.
export function refundSender(deps: RefundDeps, clock: Clock, inTransaction: InTransaction) {
  // The answer, once: the refund row, its audit row and (for an accepted refund) the charge's
  // refunded amount, all under the payment's lock.
  // A payment one of whose refunds failed counts what the provider's refunds now add up to
  // (ADR 016), read before the lock is taken; unreadable, its charge.refunded will do it.
  async function settle(refund: Refund, outcome: Outcome, requestId?: string | null): Promise<Refund> {
    const listed = "answer" in outcome ? await listRefundsOf(deps, refund.paymentId).catch(() => undefined) : undefined;
    return (await settleListed(refund, outcome, requestId, listed)).refund;
  }

  // `settled`: this call recorded the answer (false: it was recorded before, by whoever came first).
  function settleListed(refund: Refund, outcome: Outcome, requestId?: string | null, listed?: ListedRefunds) {
    return inTransaction(async (tx) => {
      const payment = await tx.payments.lockPayment(refund.paymentId);
      const current = await tx.refunds.lockRefund(refund.id);
      if (!payment || !current) throw new NotFoundError("refund");
      if (current.status !== "processing") return { refund: current, settled: false };
      const answer = "answer" in outcome ? outcome.answer : null;
      const accepted = answer !== null && answer.status !== "failed" && answer.status !== "canceled";
      const updated = await tx.refunds.updateRefund(current.id, {
        status: accepted ? "succeeded" : "failed",
        providerRefundId: answer?.id ?? null,
        failureReason: accepted ? null : failureOf(outcome),
      });
      await auditRefund(tx, updated, null, accepted ? "refund_succeeded" : "refund_failed", requestId);
      if (!accepted) await emitRefundFailed(tx.outbox, updated);
      if (accepted && answer.charge) {
        await deps.applyRefundLocked(tx, payment, answer.charge, `refund:${answer.id}`, listed, false, answer);
      }
      return { refund: updated, settled: true };
    });
  }

  async function issue(refund: Refund, requestId?: string | null): Promise<Refund> {
    if (!keyRemembered(refund, clock)) {
      throw new InvalidStateError(
        `refund ${refund.id} was sent over ${PROVIDER_IDEMPOTENCY_WINDOW_MS / 3_600_000} hours ago without an answer and ` +
          `sending it again could refund twice: look for the provider's refund with metadata refundId ${refund.id}`,
      );
    }
    const payment = await deps.store.findPayment(refund.paymentId);
    if (!payment?.providerPaymentIntentId) throw new NotFoundError("payment");
    let answer: RefundInfo;
    try {
      answer = await deps.provider.createRefund({
        paymentIntentId: payment.providerPaymentIntentId,
        amountMinor: refund.amountMinor,
        metadata: { paymentId: payment.id, refundId: refund.id },
        idempotencyKey: `refund:${refund.id}`,
      });
    } catch (error) {
      if (error instanceof ProviderUnavailableError) throw new ProviderUnavailableDomainError();
      if (error instanceof ProviderRefusedError) return settle(refund, { refused: error.message }, requestId);
      throw error;
    }
    return settle(refund, { answer }, requestId);
  }

  // For reconciliation: a refund whose answer we never recorded (the process stopped, or the answer
  // was lost, between the call and the answer), settled from the provider's own record of it (the
  // refund whose metadata names ours) as its answer would have been. Not there: while it can still
  // be sent again it may be on its way (or an admin sends it again), so nothing is done; past that,
  // the provider never made it, and the request is closed as failed, its amount no longer held.
  // Null when nothing was done by this call (the listing unreadable: the next run asks again).
  async function settleFromProvider(refund: Refund): Promise<Refund | null> {
    const listed = await listAllRefundsOf(deps, refund.paymentId).catch(() => undefined);
    if (!listed) return null;
    const answer = listed.refunds.find((made) => made.refundRequestId === refund.id);
    if (!answer && keyRemembered(refund, clock)) return null;
    const outcome = answer ? { answer } : { refused: "the provider has no refund for this request: it was never made" };
    const { refund: updated, settled } = await settleListed(refund, outcome, null, listed);
    return settled ? updated : null;
  }

  return { issue, settleFromProvider };
}

// A refund is first sent when it is filed (at or below the threshold) or approved. Sent again
// after the provider may have forgotten its idempotency key, it would be a second refund: past
// that, only someone who looked it up at the provider can say whether it was made.
function keyRemembered(refund: Refund, clock: Clock): boolean {
  const firstSentAt = refund.decidedAt ?? refund.createdAt;
  return clock.now().getTime() - firstSentAt.getTime() < PROVIDER_IDEMPOTENCY_WINDOW_MS;
}

export async function auditRefund(
  tx: Tx,
  refund: Refund,
  actorId: string | null,
  action: Extract<AuditAction, `refund_${string}`>,
  requestId?: string | null,
) {
  await tx.refunds.audit({
    actorId,
    targetUserId: refund.userId,
    action,
    amount: null,
    reason: refund.reason,
    requestId: requestId ?? null,
    balanceBefore: null,
    balanceAfter: null,
    adjustmentRequestId: null,
    detail: {
      refundId: refund.id,
      paymentId: refund.paymentId,
      amountMinor: refund.amountMinor,
      currency: refund.currency,
      ...(refund.providerRefundId ? { providerRefundId: refund.providerRefundId } : {}),
    },
  });
}

function failureOf(outcome: Outcome): string {
  const text = "refused" in outcome ? outcome.refused : `the provider answered ${outcome.answer.status}`;
  return text.slice(0, MAX_FAILURE_LENGTH);
}
