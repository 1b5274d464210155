import type { CheckoutSessionInfo, PaymentIntentInfo, PaymentProvider } from "../payments/provider.ts";
import { ProviderRefusedError } from "../payments/provider.ts";
import type { Payment, PaymentStore } from "../payments/store.ts";
import type { AutoTopUpStore } from "./store.ts";

// The card a Checkout saves for auto top-up (setup_future_usage=off_session). Its PaymentIntent
// names the card; payment_intent.succeeded brings it, and so does checkout.session.completed (or
// reconciliation crediting the session) by asking the provider for the session's PaymentIntent,
// so one lost event does not leave an opted-in user without the card they paid with.

// The PaymentIntent to save a card from, asked of the provider before any lock: only for a paid
// session whose user waits for a card (opted in, none saved). A PaymentIntent the provider does
// not know gives none; an unreachable provider throws (the webhook is then delivered again).
export async function checkoutCardIntent(
  deps: { store: Pick<PaymentStore, "findPayment" | "getBillingProfile">; provider: PaymentProvider },
  session: CheckoutSessionInfo,
): Promise<PaymentIntentInfo | null> {
  if (session.paymentStatus !== "paid" || !session.paymentId || !session.paymentIntentId) return null;
  const payment = await deps.store.findPayment(session.paymentId);
  if (!payment || !(await deps.store.getBillingProfile(payment.userId))?.saveCard) return null;
  const intent = await deps.provider.retrievePaymentIntent(session.paymentIntentId).catch((error: unknown) => {
    if (error instanceof ProviderRefusedError) return null;
    throw error;
  });
  return intent?.paymentId === payment.id ? intent : null;
}

// Under the payment's lock: keeps the card the Checkout's PaymentIntent saved, unless the user's
// card was removed after this Checkout began (a late event, or the repair of a lost one, must not
// bring back a card the user removed, or a disputing one). False when nothing was saved.
export async function saveCheckoutCard(
  tx: { payments: PaymentStore; autoTopUps: AutoTopUpStore },
  payment: Payment,
  intent: PaymentIntentInfo,
): Promise<boolean> {
  if (intent.status !== "succeeded" || !intent.savedForOffSession || !intent.paymentMethodId || !intent.customerId) {
    return false;
  }
  const settings = await tx.autoTopUps.lockSettings(payment.userId);
  if (!settings || (settings.cardRemovedAt && settings.cardRemovedAt >= payment.createdAt)) return false;
  // The card belongs to the customer it was saved on: keep that customer for the user.
  const customerId = await tx.payments.setProviderCustomer(payment.userId, intent.customerId);
  if (customerId !== intent.customerId) return false;
  return tx.autoTopUps.saveCard(payment.userId, intent.paymentMethodId);
}
