import { checkoutCardIntent, saveCheckoutCard } from "../autotopup/card.ts";
import { applyIntent } from "../autotopup/intent.ts";
import { type AutoTopUpStore, DISPUTE_DISABLED_REASON } from "../autotopup/store.ts";
import type { Clock } from "../clock.ts";
import type { FulfilLocked } from "./fulfil.ts";
import { PaymentNotYetKnownError } from "./not-yet-known.ts";
import {
  type ChargeInfo,
  type CheckoutSessionInfo,
  type PaymentIntentInfo,
  type PaymentProvider,
  type ProviderEvent,
  type RefundInfo,
  sessionSettled,
} from "./provider.ts";
import {
  applyRefundFailure,
  isUndone,
  type ListedRefunds,
  listedFor,
  listRefundsFor,
  markCounted,
  RefundFactsMovedError,
  refundedAtProvider,
} from "./refund-failures.ts";
import type { LedgerTx, Settle } from "./settle.ts";
import { nextDispute, OPEN_STATUSES, type PaymentStatus } from "./state.ts";
import type { Payment, PaymentPatch, PaymentStore } from "./store.ts";
import { transition } from "./transition.ts";

// The provider's events, routed to their effects. Part of the payment service (payments.ts), which
// passes its own deps (the public url is read from them on each event, as before the move).

export type EventOutcome = "processed" | "duplicate" | "ignored";

export interface Tx extends LedgerTx {
  autoTopUps: AutoTopUpStore;
}

export type ApplyRefund = (
  tx: LedgerTx,
  payment: Payment,
  charge: ChargeInfo,
  source: string,
  listed?: ListedRefunds,
  needsList?: boolean,
  // Our refund whose answer this charge is (it counts that refund).
  own?: RefundInfo,
) => Promise<void>;

export interface EventParts {
  store: PaymentStore;
  provider: PaymentProvider;
  clock: Clock;
  settle: Settle;
  inTransaction: <T>(work: (tx: Tx) => Promise<T>) => Promise<T>;
  fulfilLocked: FulfilLocked;
  applyRefund: ApplyRefund;
}

// The refunded amount is cumulative and only grows: a late or repeated report changes nothing.
// Once a refund of the payment failed, the charge's cumulative amount is not comparable with
// ours: only the provider's refunds as listed now count, less those recorded failed (none given:
// the amount stays, or, for an event, which must not be lost, the event is handled again with a
// fresh list).
export function createApplyRefund(settle: Settle): ApplyRefund {
  return async function applyRefund(tx, payment, charge, source, listed, needsList = false, own) {
    const reported = await refundedAtProvider(tx, payment, charge, listed, needsList);
    const amountRefundedMinor = Math.max(payment.amountRefundedMinor, reported);
    const receiptUrl = payment.receiptUrl ?? charge.receiptUrl;
    await settle(tx, payment, { amountRefundedMinor, providerChargeId: charge.id, receiptUrl }, source);
    await markCounted(tx, payment, amountRefundedMinor, listed, own);
  };
}

export function createEventHandler(deps: { publicUrl: string }, parts: EventParts) {
  const { store, provider, inTransaction } = parts;
  const apply = createEventRouter(deps, parts);

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
      // A duplicate that waited for the lock stops here: applying it again would redo work whose
      // keys its first delivery took (a refund clawback that came up short, retried with credits
      // bought since, failed on its key and answered 500; the inbox row below came too late).
      if (await tx.payments.lockEvent(event.id)) throw new DuplicateEvent();
      const acted = await apply(tx, event, read);
      const recorded = await tx.payments.recordEvent({
        id: event.id,
        provider: provider.name,
        type: event.type === "ignored" ? event.providerType : event.type,
        status: acted ? "processed" : "ignored",
        // An event that changed nothing keeps no body: the provider's data we do not use (a
        // customer.deleted after an erasure carries the erased email) is not stored. Nor does one
        // about an erased user's payment: its body names their customer and email, which the
        // erasure scrubbed from the bodies stored before it.
        payload: acted && !(await aboutErasedUser(tx, event)) ? rawBody : null,
      });
      if (!recorded) throw new DuplicateEvent();
      return acted ? "processed" : "ignored";
    }).catch((error: unknown) => {
      if (error instanceof DuplicateEvent) return "duplicate" as const;
      throw error;
    });
  }

  return handleEvent;
}

// One event's effects, under the event's lock; false when it changed nothing.
function createEventRouter(deps: { publicUrl: string }, { clock, settle, fulfilLocked, applyRefund }: EventParts) {
  return async function apply(tx: Tx, event: ProviderEvent, { listed, card }: PreRead): Promise<boolean> {
    switch (event.type) {
      case "checkout.completed":
      case "checkout.async_succeeded":
        return onCheckoutPaidOrPending(tx, event.session, event.id, card, fulfilLocked);
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
  };
}

// Whether the event's payment (already locked by its effects) belongs to an erased user. The read
// locks the user's row (key share): an erasure running meanwhile either committed before it, or
// waits for this event's commit and scrubs its body then.
async function aboutErasedUser(tx: Tx, event: ProviderEvent): Promise<boolean> {
  const payment = await paymentOfEvent(tx, event);
  return payment ? tx.payments.isUserErased(payment.userId) : false;
}

function paymentOfEvent(tx: Tx, event: ProviderEvent): Promise<Payment | null> {
  const byRef = (ref: { paymentIntentId: string | null; chargeId: string | null }) =>
    tx.payments.lockPaymentByProviderRef(ref);
  const byId = (id: string | null) => (id ? tx.payments.lockPayment(id) : Promise.resolve(null));
  switch (event.type) {
    case "checkout.completed":
    case "checkout.async_succeeded":
    case "checkout.async_failed":
    case "checkout.expired":
      return byId(event.session.paymentId);
    case "charge.refunded":
      return byRef({ paymentIntentId: event.charge.paymentIntentId, chargeId: event.charge.id });
    case "refund.updated":
      return byRef({ paymentIntentId: event.refund.paymentIntentId, chargeId: event.refund.chargeId });
    case "dispute.created":
    case "dispute.closed":
      return byRef({ paymentIntentId: event.dispute.paymentIntentId, chargeId: event.dispute.chargeId });
    case "payment_intent.succeeded":
    case "payment_intent.failed":
      return byId(event.paymentIntent.paymentId);
    case "ignored":
      return Promise.resolve(null);
  }
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
  fulfilLocked: FulfilLocked,
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

class DuplicateEvent extends Error {}

// What an event needs from the provider, read before its transaction: the refunds (refund-failures.ts)
// and the PaymentIntent of a paid Checkout that saved a card (autotopup/card.ts).
interface PreRead {
  listed: ListedRefunds | undefined;
  card: PaymentIntentInfo | null;
}

// How often an event's refunds are read again when they changed while being read.
const MAX_LISTINGS = 3;
