import { checkoutCardIntent, saveCheckoutCard } from "../autotopup/card.ts";
import { applyIntent } from "../autotopup/intent.ts";
import type { Clock } from "../clock.ts";
import { NotFoundError, ProviderUnavailableDomainError } from "../errors.ts";
import type { FulfilLocked } from "./fulfil.ts";
import {
  type CheckoutSessionInfo,
  type PaymentIntentInfo,
  type PaymentProvider,
  ProviderUnavailableError,
  sessionSettled,
} from "./provider.ts";
import type { Tx } from "./provider-events.ts";
import { OPEN_STATUSES } from "./state.ts";
import type { Payment, PaymentStore } from "./store.ts";

// What the provider says is paid, fulfilled through the one fulfil function when the user is back
// (the success page) or when reconciliation asks. Part of the payment service (payments.ts), which
// passes its own deps (the public url is read from them on each call, as before the move).
export function createProviderFulfils(
  deps: { publicUrl: string },
  parts: {
    store: PaymentStore;
    provider: PaymentProvider;
    clock: Clock;
    inTransaction: <T>(work: (tx: Tx) => Promise<T>) => Promise<T>;
    fulfilLocked: FulfilLocked;
  },
) {
  const { store, provider, clock, inTransaction, fulfilLocked } = parts;

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

  return { confirmCheckout, fulfilFromProvider, applyIntentFromProvider };
}
