import { checkoutCardIntent, saveCheckoutCard } from "../autotopup/card.ts";
import { applyIntent, type PaidFacts } from "../autotopup/intent.ts";
import { type AutoTopUpStore, DISPUTE_DISABLED_REASON } from "../autotopup/store.ts";
import type { CatalogStore } from "../catalog.ts";
import { type Clock, systemClock } from "../clock.ts";
import { NotFoundError, ProviderUnavailableDomainError } from "../errors.ts";
import { invariant } from "../invariant.ts";
import { systemKey } from "../ledger-keys.ts";
import { withRetry } from "../retry.ts";
import { createCheckoutCanceler } from "./cancel.ts";
import { createCheckoutStarter } from "./checkout.ts";
import { PaymentNotYetKnownError } from "./not-yet-known.ts";
import {
  type FulfilOutcome,
  flagPaidAfterCancel,
  paidAmounts,
  purchaseTerms,
  sessionMismatch,
} from "./payment-facts.ts";
import { type PromotionRule, recordPromotion } from "./promotions.ts";
import {
  type ChargeInfo,
  type CheckoutSessionInfo,
  type PaymentIntentInfo,
  type PaymentProvider,
  type ProviderEvent,
  ProviderUnavailableError,
  sessionSettled,
} from "./provider.ts";
import { createRefundHeals } from "./provider-heals.ts";
import { createReceipts } from "./receipts.ts";
import {
  applyRefundFailure,
  isUndone,
  type ListedRefunds,
  listedFor,
  listRefundsFor,
  RefundFactsMovedError,
  refundedAtProvider,
} from "./refund-failures.ts";
import { createSettle, type LedgerTx } from "./settle.ts";
import { chargedMinor, nextDispute, OPEN_STATUSES, type PaymentStatus } from "./state.ts";
import type { Payment, PaymentPatch, PaymentStore } from "./store.ts";
import { transition } from "./transition.ts";

export type { FulfilOutcome };
export { PaymentNotYetKnownError };
export type EventOutcome = "processed" | "duplicate" | "ignored";

interface Tx extends LedgerTx {
  autoTopUps: AutoTopUpStore;
}

export type PaymentService = ReturnType<typeof createPaymentService>;

export function createPaymentService(deps: {
  store: PaymentStore;
  catalog: CatalogStore;
  provider: PaymentProvider;
  publicUrl: string;
  // The adjustments' approval threshold (credits) and window: promotion codes giving one user more
  // unpaid credits within the window are flagged.
  promotionReview: PromotionRule;
  clock?: Clock;
}) {
  const { store, provider } = deps;
  const clock = deps.clock ?? systemClock;
  const inTransaction = <T>(work: (tx: Tx) => Promise<T>) => withRetry(() => store.transaction(work));
  const settle = createSettle(clock);

  const createCheckout = createCheckoutStarter(deps);

  // Applies one provider event exactly once: the inbox row and the event's effects commit
  // together, under a lock on the event id, so a duplicate delivery finds the row and does nothing.
  async function handleEvent(event: ProviderEvent, rawBody: string): Promise<EventOutcome> {
    // The provider's refunds, when the event needs them, are read first (never under a lock) and
    // read again if the payment's refunds changed meanwhile. A charge report needs them only for a
    // payment with a failed refund, which its first attempt finds out. So is the card a paid
    // Checkout saved, when its user waits for one (its payment_intent.succeeded may be lost).
    const paid = event.type === "checkout.completed" || event.type === "checkout.async_succeeded";
    const card = paid ? await checkoutCardIntent({ store, provider }, event.session) : null;
    for (let attempt = 1; ; attempt += 1) {
      const skip = attempt === 1 && event.type === "charge.refunded";
      const listed = skip ? undefined : await listRefundsFor({ store, provider }, event);
      try {
        return await handleListed(event, rawBody, { listed, card });
      } catch (error) {
        if (!(error instanceof RefundFactsMovedError) || attempt >= MAX_LISTINGS) throw error;
      }
    }
  }

  async function handleListed(event: ProviderEvent, rawBody: string, read: PreRead): Promise<EventOutcome> {
    return inTransaction(async (tx) => {
      await tx.payments.lockEvent(event.id);
      const acted = await apply(tx, event, read);
      const recorded = await tx.payments.recordEvent({
        id: event.id,
        provider: provider.name,
        type: event.type === "ignored" ? event.providerType : event.type,
        status: acted ? "processed" : "ignored",
        // An event that changed nothing keeps no body: the provider's data we do not use (a
        // customer.deleted after an erasure carries the erased email) is not stored.
        payload: acted ? rawBody : null,
      });
      if (!recorded) throw new DuplicateEvent();
      return acted ? "processed" : "ignored";
    }).catch((error: unknown) => {
      if (error instanceof DuplicateEvent) return "duplicate" as const;
      throw error;
    });
  }

  async function apply(tx: Tx, event: ProviderEvent, { listed, card }: PreRead): Promise<boolean> {
    switch (event.type) {
      case "checkout.completed":
      case "checkout.async_succeeded":
        return onCheckoutPaidOrPending(tx, event.session, event.id, card);
      case "checkout.async_failed":
        return closeUnpaid(tx, event.session, "failed", event.id);
      case "checkout.expired":
        return closeUnpaid(tx, event.session, "expired", event.id);
      case "charge.refunded": {
        const payment = await lockByRef(tx, {
          paymentIntentId: event.charge.paymentIntentId,
          chargeId: event.charge.id,
        });
        await applyRefund(tx, payment, event.charge, event.id, listed, true);
        return true;
      }
      case "refund.updated": {
        // Only a failure moves anything: the charge's refunded amount already counts the others.
        if (!isUndone(event.refund)) return false;
        const { refund } = event;
        const payment = await lockByRef(tx, { paymentIntentId: refund.paymentIntentId, chargeId: refund.chargeId });
        await applyRefundFailure(tx, settle, payment, refund, listedFor(payment, listed));
        return true;
      }
      case "dispute.created":
      case "dispute.closed": {
        const { dispute } = event;
        const payment = await lockByRef(tx, { paymentIntentId: dispute.paymentIntentId, chargeId: dispute.chargeId });
        // A closed dispute that was not lost (won, or an inquiry closed with a warning) returns the credits.
        const reported = event.type === "dispute.created" ? "open" : dispute.outcome === "lost" ? "lost" : "won";
        await settle(tx, payment, nextDispute(payment, reported, dispute.amountMinor), event.id);
        if (reported === "open") await tx.autoTopUps.forgetCardToDetach(payment.userId, DISPUTE_DISABLED_REASON);
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
  // Once a refund of the payment failed, the charge's cumulative amount is not comparable with
  // ours: only the provider's refunds as listed now count, less those recorded failed (none given:
  // the amount stays, or, for an event, which must not be lost, the event is handled again with a
  // fresh list).
  async function applyRefund(
    tx: LedgerTx,
    payment: Payment,
    charge: ChargeInfo,
    source: string,
    listed?: ListedRefunds,
    needsList = false,
  ): Promise<void> {
    const reported = await refundedAtProvider(tx, payment, charge, listed, needsList);
    const amountRefundedMinor = Math.max(payment.amountRefundedMinor, reported);
    const receiptUrl = payment.receiptUrl ?? charge.receiptUrl;
    await settle(tx, payment, { amountRefundedMinor, providerChargeId: charge.id, receiptUrl }, source);
  }

  async function lockByRef(tx: Tx, ref: { paymentIntentId: string | null; chargeId: string | null }) {
    const payment = await tx.payments.lockPaymentByProviderRef(ref);
    if (!payment) throw new PaymentNotYetKnownError(ref.paymentIntentId ?? ref.chargeId ?? "an unnamed charge");
    return payment;
  }

  async function onCheckoutPaidOrPending(
    tx: Tx,
    session: CheckoutSessionInfo,
    source: string,
    card: PaymentIntentInfo | null,
  ): Promise<boolean> {
    const payment = session.paymentId ? await tx.payments.lockPayment(session.paymentId) : null;
    if (!payment) return false;
    if (sessionSettled(session)) {
      await fulfilLocked(tx, payment, session, source);
      if (card) await saveCheckoutCard(tx, payment, card);
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
    const money = paidAmounts(session);
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
        amountPaidMinor: chargedMinor({ amountMinor: payment.amountMinor, amountPaidMinor: money.amountPaidMinor }),
        amountDiscountMinor: money.amountDiscountMinor,
        amountTaxMinor: money.amountTaxMinor,
        currency: payment.currency,
        balance: entry.balanceAfter,
      },
    });
    const paid = await tx.payments.updatePayment(payment.id, {
      creditedAt: now,
      ...money,
      providerSessionId: session.id ?? payment.providerSessionId,
      providerPaymentIntentId: session.paymentIntentId ?? payment.providerPaymentIntentId,
    });
    await settle(tx, { ...paid, status: payment.status }, {}, source);
    await recordPromotion(tx, paid, deps.promotionReview, source);
    // The customer paid after canceling (a race with the cancel page): they get what they paid
    // for, and a person checks with them (a refund, most likely).
    if (payment.status === "canceled") await flagPaidAfterCancel(tx, payment, source);
    return "credited";
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
    if (sessionSettled(session)) {
      await inTransaction(async (tx) => {
        const payment = await tx.payments.lockPayment(owned.id);
        if (payment) await fulfilLocked(tx, payment, session, "success_page");
      });
    }
    return (await store.findPayment(owned.id)) ?? owned;
  }

  const receipts = createReceipts(deps);

  // For reconciliation: fulfil a session the provider says is paid, through the same function,
  // and keep the card it saved as its events would have (the card unreadable now: credited all
  // the same, the card is not worth holding back credits for).
  async function fulfilFromProvider(session: CheckoutSessionInfo, source: string): Promise<boolean> {
    if (!session.paymentId || !sessionSettled(session)) return false;
    const paymentId = session.paymentId;
    const card = await checkoutCardIntent({ store, provider }, session).catch(() => null);
    return inTransaction(async (tx) => {
      const payment = await tx.payments.lockPayment(paymentId);
      if (!payment) return false;
      const credited = (await fulfilLocked(tx, payment, session, source)) === "credited";
      if (credited && card) await saveCheckoutCard(tx, payment, card);
      return credited;
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

  return {
    createCheckout,
    cancelCheckout: createCheckoutCanceler({ store, provider, fulfilLocked }),
    handleEvent,
    confirmCheckout,
    getPayment: receipts.getPayment,
    receipt: receipts.receipt,
    fulfilFromProvider,
    applyIntentFromProvider,
    ...createRefundHeals({ store, provider, settle, inTransaction, applyRefund }),
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

// What an event needs from the provider, read before its transaction: the refunds (refund-failures.ts)
// and the PaymentIntent of a paid Checkout that saved a card (autotopup/card.ts).
interface PreRead {
  listed: ListedRefunds | undefined;
  card: PaymentIntentInfo | null;
}

// How often an event's refunds are read again when they changed while being read.
const MAX_LISTINGS = 3;
