import { applyIntent, type PaidFacts } from "../autotopup/intent.ts";
import { type AutoTopUpStore, DISPUTE_DISABLED_REASON } from "../autotopup/store.ts";
import type { CatalogStore } from "../catalog.ts";
import { clawBack } from "../clawback.ts";
import { type Clock, systemClock } from "../clock.ts";
import { NotFoundError, ProviderUnavailableDomainError } from "../errors.ts";
import type { OutboxStore } from "../events/events.ts";
import { invariant } from "../invariant.ts";
import type { LedgerStore } from "../ledger.ts";
import { systemKey } from "../ledger-keys.ts";
import { withRetry } from "../retry.ts";
import { createCheckoutCanceler } from "./cancel.ts";
import { createCheckoutStarter } from "./checkout.ts";
import { PaymentNotYetKnownError } from "./not-yet-known.ts";
import {
  emitPaymentFacts,
  type FulfilOutcome,
  flagPaidAfterCancel,
  paidAmounts,
  purchaseTerms,
  sessionMismatch,
} from "./payment-facts.ts";
import {
  type ChargeInfo,
  type CheckoutSessionInfo,
  type PaymentIntentInfo,
  type PaymentProvider,
  type ProviderEvent,
  ProviderUnavailableError,
} from "./provider.ts";
import { createReceipts } from "./receipts.ts";
import { refundRowReason } from "./refund-reason.ts";
import type { RefundStore } from "./refund-store.ts";
import {
  chargedMinor,
  clawbackTargets,
  deriveStatus,
  nextDisputeStatus,
  OPEN_STATUSES,
  type PaymentStatus,
} from "./state.ts";
import type { Payment, PaymentPatch, PaymentStore } from "./store.ts";
import { transition } from "./transition.ts";

export type { FulfilOutcome };
export { PaymentNotYetKnownError };
export type EventOutcome = "processed" | "duplicate" | "ignored";

// What crediting and clawing back touch (the refund service passes its own transaction).
interface LedgerTx {
  payments: PaymentStore;
  ledger: LedgerStore;
  outbox: OutboxStore;
  refunds: RefundStore;
}

interface Tx extends LedgerTx {
  autoTopUps: AutoTopUpStore;
}

export type PaymentService = ReturnType<typeof createPaymentService>;

export function createPaymentService(deps: {
  store: PaymentStore;
  catalog: CatalogStore;
  provider: PaymentProvider;
  publicUrl: string;
  clock?: Clock;
}) {
  const { store, provider } = deps;
  const clock = deps.clock ?? systemClock;
  const inTransaction = <T>(work: (tx: Tx) => Promise<T>) => withRetry(() => store.transaction(work));

  const createCheckout = createCheckoutStarter(deps);

  // Applies one provider event exactly once: the inbox row and the event's effects commit
  // together, under a lock on the event id, so a duplicate delivery finds the row and does nothing.
  async function handleEvent(event: ProviderEvent, rawBody: string): Promise<EventOutcome> {
    return inTransaction(async (tx) => {
      await tx.payments.lockEvent(event.id);
      const acted = await apply(tx, event);
      const recorded = await tx.payments.recordEvent({
        id: event.id,
        provider: provider.name,
        type: event.type === "ignored" ? event.providerType : event.type,
        status: acted ? "processed" : "ignored",
        payload: rawBody,
      });
      if (!recorded) throw new DuplicateEvent();
      return acted ? "processed" : "ignored";
    }).catch((error: unknown) => {
      if (error instanceof DuplicateEvent) return "duplicate" as const;
      throw error;
    });
  }

  async function apply(tx: Tx, event: ProviderEvent): Promise<boolean> {
    switch (event.type) {
      case "checkout.completed":
      case "checkout.async_succeeded":
        return onCheckoutPaidOrPending(tx, event.session, event.id);
      case "checkout.async_failed":
        return closeUnpaid(tx, event.session, "failed", event.id);
      case "checkout.expired":
        return closeUnpaid(tx, event.session, "expired", event.id);
      case "charge.refunded": {
        const payment = await lockByRef(tx, {
          paymentIntentId: event.charge.paymentIntentId,
          chargeId: event.charge.id,
        });
        await applyRefund(tx, payment, event.charge, event.id);
        return true;
      }
      case "dispute.created":
      case "dispute.closed": {
        const { dispute } = event;
        const payment = await lockByRef(tx, { paymentIntentId: dispute.paymentIntentId, chargeId: dispute.chargeId });
        // A closed dispute that was not lost (won, or an inquiry closed with a warning) returns the credits.
        const reported = event.type === "dispute.created" ? "open" : dispute.outcome === "lost" ? "lost" : "won";
        await settle(tx, payment, { disputeStatus: nextDisputeStatus(payment.disputeStatus, reported) }, event.id);
        if (reported === "open") await tx.autoTopUps.removeCard(payment.userId, DISPUTE_DISABLED_REASON);
        return true;
      }
      case "payment_intent.succeeded":
      case "payment_intent.failed":
        return applyIntent(tx, event.paymentIntent, event.id, {
          fulfil: fulfilLocked,
          clock,
          publicUrl: deps.publicUrl,
        });
      case "ignored":
        return false;
    }
  }

  // The refunded amount is cumulative and only grows: a late or repeated report changes nothing.
  async function applyRefund(tx: LedgerTx, payment: Payment, charge: ChargeInfo, source: string): Promise<void> {
    const amountRefundedMinor = Math.max(payment.amountRefundedMinor, charge.amountRefundedMinor);
    const receiptUrl = payment.receiptUrl ?? charge.receiptUrl;
    await settle(tx, payment, { amountRefundedMinor, providerChargeId: charge.id, receiptUrl }, source);
  }

  async function lockByRef(tx: Tx, ref: { paymentIntentId: string | null; chargeId: string | null }) {
    const payment = await tx.payments.lockPaymentByProviderRef(ref);
    if (!payment) throw new PaymentNotYetKnownError(ref.paymentIntentId ?? ref.chargeId ?? "an unnamed charge");
    return payment;
  }

  async function onCheckoutPaidOrPending(tx: Tx, session: CheckoutSessionInfo, source: string): Promise<boolean> {
    const payment = session.paymentId ? await tx.payments.lockPayment(session.paymentId) : null;
    if (!payment) return false;
    if (session.paymentStatus === "paid") {
      await fulfilLocked(tx, payment, session, source);
      return true;
    }
    const patch: PaymentPatch = { providerPaymentIntentId: session.paymentIntentId ?? payment.providerPaymentIntentId };
    if (payment.status === "created") patch.status = "pending";
    await transition(tx.payments, payment, patch, source);
    return true;
  }

  async function closeUnpaid(tx: Tx, session: CheckoutSessionInfo, status: PaymentStatus, source: string) {
    const payment = session.paymentId ? await tx.payments.lockPayment(session.paymentId) : null;
    if (!payment) return false;
    // Monotonic: only an unpaid, open payment can fail or expire.
    if (OPEN_STATUSES.includes(payment.status) && !payment.creditedAt) {
      await transition(tx.payments, payment, { status }, source);
    }
    return true;
  }

  // The one fulfil function (webhook, success page, reconciliation): credits at most once per
  // payment, and only when the provider's session matches our payment row.
  async function fulfilLocked(
    tx: LedgerTx,
    payment: Payment,
    session: PaidFacts,
    source: string,
  ): Promise<FulfilOutcome> {
    if (payment.creditedAt) return "already_credited";
    const mismatch = sessionMismatch(payment, session);
    if (mismatch) {
      if (!payment.reviewReason) await tx.payments.updatePayment(payment.id, { reviewReason: mismatch });
      return "flagged";
    }
    const now = clock.now();
    const entry = await tx.ledger.post({
      userId: payment.userId,
      amount: payment.credits,
      kind: "purchase",
      idempotencyKey: systemKey.purchase(payment.id),
      paymentId: payment.id,
      at: now,
      grant: purchaseTerms(payment.creditExpiryDays, now),
    });
    invariant(entry, `payment ${payment.id}: crediting user failed`);
    await tx.outbox.emit({
      type: "credits.purchased",
      userId: payment.userId,
      at: now,
      data: {
        userId: payment.userId,
        paymentId: payment.id,
        packageId: payment.packageId,
        transactionId: entry.id,
        credits: entry.amount,
        amountMinor: payment.amountMinor,
        currency: payment.currency,
        balance: entry.balanceAfter,
      },
    });
    const paid = await tx.payments.updatePayment(payment.id, {
      creditedAt: now,
      ...paidAmounts(session),
      providerSessionId: session.id ?? payment.providerSessionId,
      providerPaymentIntentId: session.paymentIntentId ?? payment.providerPaymentIntentId,
    });
    await settle(tx, { ...paid, status: payment.status }, {}, source);
    // The customer paid after canceling (a race with the cancel page): they get what they paid
    // for, and a person checks with them (a refund, most likely).
    if (payment.status === "canceled") await flagPaidAfterCancel(tx, payment, source);
    return "credited";
  }

  // Applies new facts, posts the clawback deltas they imply, and records the status change.
  async function settle(tx: LedgerTx, payment: Payment, facts: PaymentPatch, source: string): Promise<void> {
    const next = { ...payment, ...facts };
    const patch: PaymentPatch = { ...facts };
    // A charge reporting more refunded than this payment's amount is not the charge we sold (or
    // the amounts disagree): record at most the whole payment (a CHECK forbids more, and failing
    // here would answer 500 forever) and have a person look.
    const charged = chargedMinor(next);
    if (next.amountRefundedMinor > charged) {
      patch.reviewReason = `provider reports ${next.amountRefundedMinor} refunded, more than the payment's ${charged}`;
      next.amountRefundedMinor = charged;
      patch.amountRefundedMinor = charged;
    }
    if (next.creditedAt) {
      const target = clawbackTargets(next);
      // A dispute's share shrinks when a refund covers part of it: give that back first, so the
      // refund's clawback finds the credits.
      const disputeDelta = target.disputed - next.creditsDisputed;
      if (disputeDelta < 0)
        patch.creditsDisputed =
          next.creditsDisputed - (await postDelta(tx, next, "dispute_reversal", -disputeDelta, source));
      const refundDelta = target.refunded - next.creditsRefunded;
      if (refundDelta > 0) {
        const taken = await clawBackRefund(tx, next, refundDelta, source, refundRowReason(payment, next));
        patch.creditsRefunded = next.creditsRefunded + taken;
        if (taken < refundDelta) {
          patch.reviewReason = `refund clawback short by ${refundDelta - taken} credits (already spent)`;
        }
      }
      if (disputeDelta > 0) {
        const { taken } = await clawBack(tx.ledger, {
          userId: next.userId,
          wanted: disputeDelta,
          kind: "dispute_clawback",
          idempotencyKey: `s:dispute_clawback:${payment.id}:${source}`,
          paymentId: payment.id,
          now: clock.now(),
        });
        patch.creditsDisputed = next.creditsDisputed + taken;
      }
    }
    await transition(tx.payments, payment, { ...patch, status: deriveStatus(next) }, source);
    await emitPaymentFacts(tx.outbox, payment, { ...next, ...patch }, clock.now());
  }

  async function postDelta(
    tx: LedgerTx,
    payment: Payment,
    kind: "dispute_reversal",
    amount: number,
    source: string,
  ): Promise<number> {
    const entry = await tx.ledger.post({
      userId: payment.userId,
      amount,
      kind,
      idempotencyKey: `s:${kind}:${payment.id}:${source}`,
      paymentId: payment.id,
      at: clock.now(),
    });
    invariant(entry, `payment ${payment.id}: ${kind} of ${amount} failed`);
    return Math.abs(amount);
  }

  // A refund takes back what the user still has, in the balance or reserved by open holds, never
  // more: credits already spent are flagged for review rather than driving the balance below zero.
  async function clawBackRefund(tx: LedgerTx, payment: Payment, wanted: number, source: string, reason: string) {
    const { taken } = await clawBack(tx.ledger, {
      userId: payment.userId,
      wanted,
      kind: "refund_clawback",
      idempotencyKey: `s:refund_clawback:${payment.id}:${source}`,
      paymentId: payment.id,
      reason,
      now: clock.now(),
    });
    return taken;
  }

  // The success page: asks the provider about the session (the user may be back before the
  // webhook) and fulfils through the same function. A payment already credited, or closed
  // unpaid, is answered from our own row: the page asks every few seconds, and only a question we
  // cannot answer ourselves reaches the provider (after `beforeProviderCall`, the caller's limit).
  async function confirmCheckout(
    userId: string,
    sessionId: string,
    beforeProviderCall: () => Promise<unknown> = async () => {},
  ): Promise<Payment> {
    const known = await store.findPaymentBySession(sessionId);
    if (known && known.userId === userId && (known.creditedAt || !OPEN_STATUSES.includes(known.status))) {
      return known;
    }
    await beforeProviderCall();
    const session = await provider.retrieveCheckoutSession(sessionId).catch((error: unknown) => {
      if (error instanceof ProviderUnavailableError) throw new ProviderUnavailableDomainError();
      throw new NotFoundError("checkout session");
    });
    const owned = session.paymentId ? await store.findPayment(session.paymentId) : null;
    if (!owned || owned.userId !== userId) throw new NotFoundError("checkout session");
    if (session.paymentStatus === "paid") {
      await inTransaction(async (tx) => {
        const payment = await tx.payments.lockPayment(owned.id);
        if (payment) await fulfilLocked(tx, payment, session, "success_page");
      });
    }
    return (await store.findPayment(owned.id)) ?? owned;
  }

  const receipts = createReceipts(deps);

  // For reconciliation: fulfil a session the provider says is paid, through the same function.
  async function fulfilFromProvider(session: CheckoutSessionInfo, source: string): Promise<boolean> {
    if (!session.paymentId || session.paymentStatus !== "paid") return false;
    const paymentId = session.paymentId;
    return inTransaction(async (tx) => {
      const payment = await tx.payments.lockPayment(paymentId);
      return payment !== null && (await fulfilLocked(tx, payment, session, source)) === "credited";
    });
  }

  // Reconciliation: an auto top-up's succeeded PaymentIntent, as its webhook; true if this call credited.
  async function applyIntentFromProvider(intent: PaymentIntentInfo, source: string): Promise<boolean> {
    const paymentId = intent.paymentId;
    if (!paymentId || intent.status !== "succeeded") return false;
    return inTransaction(async (tx) => {
      const before = await tx.payments.lockPayment(paymentId);
      if (!before || before.creditedAt) return false;
      await applyIntent(tx, intent, source, { fulfil: fulfilLocked, clock, publicUrl: deps.publicUrl });
      return Boolean((await tx.payments.findPayment(paymentId))?.creditedAt);
    });
  }

  // For reconciliation: a refund the provider reports but we never recorded (a lost
  // charge.refunded), applied through the same path as the event. False when there is nothing
  // new to apply (unknown payment, or the refund is already recorded).
  async function applyRefundFromProvider(charge: ChargeInfo, source: string): Promise<boolean> {
    return inTransaction(async (tx) => {
      const payment = await tx.payments.lockPaymentByProviderRef({
        paymentIntentId: charge.paymentIntentId,
        chargeId: charge.id,
      });
      if (!payment || charge.amountRefundedMinor <= payment.amountRefundedMinor) return false;
      await applyRefund(tx, payment, charge, source);
      return true;
    });
  }

  return {
    createCheckout,
    cancelCheckout: createCheckoutCanceler({ store, provider, fulfilLocked }),
    handleEvent,
    confirmCheckout,
    getPayment: receipts.getPayment,
    receipt: receipts.receipt,
    fulfilFromProvider,
    applyIntentFromProvider,
    applyRefundFromProvider,
    // For the refund service: the provider's answer to our own refund applies the same fact as its
    // charge.refunded event, under the payment's lock held by the caller; whichever comes first
    // claws back, the other finds nothing left to do.
    applyRefundLocked: applyRefund,
    // For auto top-up: its PaymentIntents are credited through the same function, under the
    // payment's lock held by the caller.
    fulfilLocked,
    listPayments: (userId: string) => store.listUserPayments(userId, 50),
  };
}

class DuplicateEvent extends Error {}
