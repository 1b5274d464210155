import { type Clock, systemClock } from "../clock.ts";
import {
  ForbiddenError,
  IdempotencyConflictError,
  InvalidInputError,
  InvalidStateError,
  NotFoundError,
  ProviderUnavailableDomainError,
} from "../errors.ts";
import type { OutboxStore } from "../events/events.ts";
import type { LedgerStore } from "../ledger.ts";
import { clientKey } from "../ledger-keys.ts";
import { MAX_PAGE_SIZE } from "../limits.ts";
import { withRetry } from "../retry.ts";
import { assertIdempotencyKey, assertReason } from "../validate.ts";
import {
  type ChargeInfo,
  type PaymentProvider,
  PROVIDER_IDEMPOTENCY_WINDOW_MS,
  ProviderRefusedError,
  ProviderUnavailableError,
  type RefundInfo,
} from "./provider.ts";
import { type ListedRefunds, listRefundsOf } from "./refund-failures.ts";
import { MAX_FAILURE_LENGTH, type Refund, type RefundStore } from "./refund-store.ts";
import { chargedMinor } from "./state.ts";
import type { Payment, PaymentStore } from "./store.ts";

// The largest refund anyone can ask for, in minor units: far above any payment, far below 2^53.
export const MAX_REFUND_MINOR = 1_000_000_000_000;

interface Tx {
  payments: PaymentStore;
  ledger: LedgerStore;
  outbox: OutboxStore;
  refunds: RefundStore;
}

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

interface RefundDeps {
  store: PaymentStore;
  provider: PaymentProvider;
  applyRefundLocked: (
    tx: Tx,
    payment: Payment,
    charge: ChargeInfo,
    source: string,
    listed?: ListedRefunds,
  ) => Promise<void>;
  // Refunds above this (per currency, minor units) wait for a second admin; a currency not listed: all do.
  approvalThresholds: Readonly<Record<string, number>>;
  approvalTtlMs: number;
  clock?: Clock;
}

// Refunds from the admin panel and API: a row per request (the record of who asked, who approved,
// and the provider's refund id), the provider's refund API, and a second admin above the
// per-currency threshold. Credits are never clawed back here directly: the provider's answer is
// applied as the same fact its charge.refunded event reports (`applyRefundLocked`), so whichever of
// the two arrives first claws back, once (ADR 016).
export function createRefundService(deps: RefundDeps) {
  const { store } = deps;
  const clock = deps.clock ?? systemClock;
  const inTransaction = <T>(work: (tx: Tx) => Promise<T>) => withRetry(() => store.transaction(work));
  const issue = refundSender(deps, clock, inTransaction);
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

type InTransaction = <T>(work: (tx: Tx) => Promise<T>) => Promise<T>;

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

// Why a payment cannot be refunded at all, or null: only a paid, undisputed payment can be.
export function refundBlocker(payment: Payment): string | null {
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

// Sends a refund the provider has not answered yet and records the answer. Its idempotency key is
// the refund row's, so a retry (or a second approval) after a timeout or a crash is the same
// refund at the provider.
function refundSender(deps: RefundDeps, clock: Clock, inTransaction: InTransaction) {
  // The answer, once: the refund row, its audit row and (for an accepted refund) the charge's
  // refunded amount, all under the payment's lock.
  // A payment one of whose refunds failed counts what the provider's refunds now add up to
  // (ADR 016), read before the lock is taken; unreadable, its charge.refunded will do it.
  async function settle(refund: Refund, outcome: Outcome, requestId?: string | null): Promise<Refund> {
    const listed = "answer" in outcome ? await listRefundsOf(deps, refund.paymentId).catch(() => undefined) : undefined;
    return settleListed(refund, outcome, requestId, listed);
  }

  function settleListed(refund: Refund, outcome: Outcome, requestId?: string | null, listed?: ListedRefunds) {
    return inTransaction(async (tx) => {
      const payment = await tx.payments.lockPayment(refund.paymentId);
      const current = await tx.refunds.lockRefund(refund.id);
      if (!payment || !current) throw new NotFoundError("refund");
      if (current.status !== "processing") return current;
      const answer = "answer" in outcome ? outcome.answer : null;
      const accepted = answer !== null && answer.status !== "failed" && answer.status !== "canceled";
      const updated = await tx.refunds.updateRefund(current.id, {
        status: accepted ? "succeeded" : "failed",
        providerRefundId: answer?.id ?? null,
        failureReason: accepted ? null : failureOf(outcome),
      });
      await auditRefund(tx, updated, null, accepted ? "refund_succeeded" : "refund_failed", requestId);
      if (accepted && answer.charge) {
        await deps.applyRefundLocked(tx, payment, answer.charge, `refund:${answer.id}`, listed);
      }
      return updated;
    });
  }

  return async function issue(refund: Refund, requestId?: string | null): Promise<Refund> {
    assertKeyRemembered(refund, clock);
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
  };
}

type Outcome = { answer: RefundInfo } | { refused: string };

// A refund is first sent when it is filed (at or below the threshold) or approved. Sent again
// after the provider may have forgotten its idempotency key, it would be a second refund: past
// that, only someone who looked it up at the provider can say whether it was made.
function assertKeyRemembered(refund: Refund, clock: Clock): void {
  const firstSentAt = refund.decidedAt ?? refund.createdAt;
  if (clock.now().getTime() - firstSentAt.getTime() < PROVIDER_IDEMPOTENCY_WINDOW_MS) return;
  throw new InvalidStateError(
    `refund ${refund.id} was sent over ${PROVIDER_IDEMPOTENCY_WINDOW_MS / 3_600_000} hours ago without an answer and ` +
      `sending it again could refund twice: look for the provider's refund with metadata refundId ${refund.id}`,
  );
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

async function auditRefund(tx: Tx, refund: Refund, actorId: string | null, action: string, requestId?: string | null) {
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
