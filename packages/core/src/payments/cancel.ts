import { InvalidStateError, NotFoundError, ProviderUnavailableDomainError } from "../errors.ts";
import type { OutboxStore } from "../events/events.ts";
import { invariant } from "../invariant.ts";
import type { LedgerStore } from "../ledger.ts";
import { withRetry } from "../retry.ts";
import type { FulfilOutcome } from "./payment-facts.ts";
import {
  type CheckoutSessionInfo,
  type PaymentProvider,
  ProviderRefusedError,
  ProviderUnavailableError,
  sessionSettled,
} from "./provider.ts";
import type { RefundStore } from "./refund-store.ts";
import { OPEN_STATUSES } from "./state.ts";
import type { Payment, PaymentStore } from "./store.ts";
import { transition } from "./transition.ts";

interface Tx {
  payments: PaymentStore;
  ledger: LedgerStore;
  outbox: OutboxStore;
  refunds: RefundStore;
}

// Recorded on the payment's transition (and on what a paid session credits from here).
export const CANCEL_SOURCE = "cancel_page";

// What the provider said about the session we asked it to expire.
type Expiry = { session: CheckoutSessionInfo; expiredByUs: boolean } | { session: null; expiredByUs: false };

// The cancel page: the customer backed out of checkout, so their session is expired at the
// provider (it can no longer be paid) and the payment closes as `canceled`. Part of the payment
// service (payments.ts). Only the payment's owner may cancel it, and canceling again changes
// nothing. A session the provider already completed cannot be expired: its answer is taken as it
// is (paid: credited through the one fulfil function; paid later: the webhook does it).
export function createCheckoutCanceler(deps: {
  store: PaymentStore;
  provider: PaymentProvider;
  fulfilLocked: (tx: Tx, payment: Payment, session: CheckoutSessionInfo, source: string) => Promise<FulfilOutcome>;
}) {
  const { store, provider } = deps;
  const inTransaction = <T>(work: (tx: Tx) => Promise<T>) => withRetry(() => store.transaction(work));

  // Asks the provider to expire the session; a refusal (no longer open) is answered with the
  // session as it stands.
  async function expire(payment: Payment): Promise<Expiry> {
    const sessionId = payment.providerSessionId;
    // The session is still being made (or was never made): nothing at the provider to expire.
    if (!sessionId) return { session: null, expiredByUs: false };
    try {
      return { session: await provider.expireCheckoutSession(sessionId), expiredByUs: true };
    } catch (error) {
      if (error instanceof ProviderUnavailableError) throw new ProviderUnavailableDomainError();
      if (!(error instanceof ProviderRefusedError)) throw error;
    }
    const session = await provider.retrieveCheckoutSession(sessionId).catch((error: unknown) => {
      if (error instanceof ProviderUnavailableError) throw new ProviderUnavailableDomainError();
      throw error;
    });
    return { session, expiredByUs: false };
  }

  return async function cancelCheckout(
    userId: string,
    paymentId: string,
    beforeProviderCall: () => Promise<unknown> = async () => {},
  ): Promise<Payment> {
    const payment = await store.findPayment(paymentId);
    if (!payment || payment.userId !== userId) throw new NotFoundError("payment");
    // An auto top-up's card is charged off-session: there is no checkout to back out of, and
    // "canceled" would be untrue once the charge (already on its way) succeeds.
    // Told by its attempt row, never by the payment's idempotency key: a user may choose any
    // checkout key, "auto_topup:…" included.
    if (await withRetry(() => store.transaction((tx) => tx.autoTopUps.findAttemptByPayment(payment.id)))) {
      throw new InvalidStateError("an auto top-up's payment is not a checkout and cannot be canceled");
    }
    // Canceled before, paid, or closed otherwise: answered from our own row, the provider not asked.
    if (payment.creditedAt || !OPEN_STATUSES.includes(payment.status)) return payment;
    await beforeProviderCall();
    const { session, expiredByUs } = await expire(payment);
    return inTransaction(async (tx) => {
      const locked = await tx.payments.lockPayment(payment.id);
      invariant(locked, `payment ${payment.id} vanished while being canceled`);
      if (session && sessionSettled(session)) {
        await deps.fulfilLocked(tx, locked, session, CANCEL_SOURCE);
      } else if (!locked.creditedAt && (session === null || expiredByUs)) {
        // The provider's own expired event may have come first (it does on the local provider):
        // it only said what we asked for, so the payment still closes as canceled.
        if (OPEN_STATUSES.includes(locked.status) || (expiredByUs && locked.status === "expired")) {
          await transition(tx.payments, locked, { status: "canceled" }, CANCEL_SOURCE);
        }
      }
      return (await tx.payments.findPayment(payment.id)) ?? locked;
    });
  };
}
