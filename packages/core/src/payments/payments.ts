import type { CatalogStore } from "../catalog.ts";
import { type Clock, systemClock } from "../clock.ts";
import { withRetry } from "../retry.ts";
import { createCheckoutCanceler } from "./cancel.ts";
import { createCheckoutStarter } from "./checkout.ts";
import { createExpirySettles } from "./expiry-settles.ts";
import { createFulfilLocked } from "./fulfil.ts";
import { PaymentNotYetKnownError } from "./not-yet-known.ts";
import type { FulfilOutcome } from "./payment-facts.ts";
import type { PromotionRule } from "./promotions.ts";
import type { PaymentProvider } from "./provider.ts";
import { createApplyRefund, createEventHandler, type EventOutcome, type Tx } from "./provider-events.ts";
import { createProviderFulfils } from "./provider-fulfil.ts";
import { createRefundHeals } from "./provider-heals.ts";
import { createReceipts } from "./receipts.ts";
import { createSettle } from "./settle.ts";
import type { PaymentStore } from "./store.ts";

export type { EventOutcome, FulfilOutcome };
export { PaymentNotYetKnownError };

export type PaymentService = ReturnType<typeof createPaymentService>;

// The payment service, composed of its parts: checkout (checkout.ts, cancel.ts), the one fulfil
// function (fulfil.ts), the provider's events (provider-events.ts), the success page and
// reconciliation's fulfils (provider-fulfil.ts), receipts (receipts.ts) and refund heals
// (provider-heals.ts).
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
  const fulfilLocked = createFulfilLocked(deps, { clock, settle });
  const applyRefund = createApplyRefund(settle);
  const parts = { store, provider, clock, settle, inTransaction, fulfilLocked, applyRefund };
  const handleEvent = createEventHandler(deps, parts);
  const receipts = createReceipts(deps);
  const fulfils = createProviderFulfils(deps, parts);

  return {
    createCheckout,
    cancelCheckout: createCheckoutCanceler({ store, provider, fulfilLocked }),
    handleEvent,
    confirmCheckout: fulfils.confirmCheckout,
    getPayment: receipts.getPayment,
    receipt: receipts.receipt,
    fulfilFromProvider: fulfils.fulfilFromProvider,
    applyIntentFromProvider: fulfils.applyIntentFromProvider,
    ...createRefundHeals({ store, provider, settle, inTransaction, applyRefund }),
    // For the refund service: the provider's answer to our own refund applies the same fact as its
    // charge.refunded event, under the payment's lock held by the caller; whichever comes first
    // claws back, the other finds nothing left to do.
    applyRefundLocked: applyRefund,
    // For auto top-up: its PaymentIntents are credited through the same function, under the
    // payment's lock held by the caller.
    fulfilLocked,
    listPayments: (userId: string) => store.listUserPayments(userId, 50),
    // For the grant sweep: payments whose credits expired after a clawback, settled again.
    settleAfterExpiry: createExpirySettles({ store, settle, inTransaction }),
  };
}
