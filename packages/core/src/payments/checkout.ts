import { setTimeout as sleep } from "node:timers/promises";
import { autoTopUpPaymentKey } from "../autotopup/store.ts";
import type { CatalogStore } from "../catalog.ts";
import { onSale } from "../catalog-pricing.ts";
import { priceOf } from "../catalog-service.ts";
import {
  IdempotencyConflictError,
  InvalidInputError,
  InvalidStateError,
  NotFoundError,
  ProviderUnavailableDomainError,
} from "../errors.ts";
import { invariant } from "../invariant.ts";
import { currencyProblem } from "../money.ts";
import { withRetry } from "../retry.ts";
import { assertIdempotencyKey } from "../validate.ts";
import { type PaymentProvider, ProviderUnavailableError } from "./provider.ts";
import { OPEN_STATUSES } from "./state.ts";
import type { Payment, PaymentStore } from "./store.ts";
import { transition } from "./transition.ts";

export interface CheckoutOptions {
  // The client's key for this checkout: a repeated request answers the first one's session.
  idempotencyKey?: string | null;
  // One of the pack's currencies; by default the pack's first price.
  currency?: string | null;
}

export interface CheckoutStarted {
  paymentId: string;
  checkoutUrl: string;
}

// How long a repeated checkout request waits for the first one's provider session.
const CHECKOUT_WAIT_MS = 10_000;
const CHECKOUT_POLL_MS = 100;

// Starting a checkout: our payment row, the user's provider customer (made once), the provider's
// session. Part of the payment service (payments.ts), apart because nothing else there calls out.
export function createCheckoutStarter(deps: {
  store: PaymentStore;
  catalog: CatalogStore;
  provider: PaymentProvider;
  publicUrl: string;
}) {
  const { store, catalog, provider } = deps;
  const inTransaction = <T>(work: (tx: { payments: PaymentStore }) => Promise<T>) =>
    withRetry(() => store.transaction(work));

  // Our payment row first, then the provider's session carrying its id: whatever fails later,
  // the payment can be found from either side. With a key (the web form sends one per render), a
  // repeated request finds the first payment and answers its session: a double submit makes one
  // payment and one provider session. The payment copies what it sells (credits, the chosen price,
  // the credits' expiry): an edit or archive of the pack later changes nothing about it.
  async function createCheckout(
    userId: string,
    packageId: string,
    { idempotencyKey = null, currency = null }: CheckoutOptions = {},
  ): Promise<CheckoutStarted> {
    if (currency !== null) {
      const problem = currencyProblem(currency);
      if (problem) throw new InvalidInputError(`currency ${problem}`);
    }
    const request = { packageId, currency };
    if (idempotencyKey !== null) {
      assertIdempotencyKey(idempotencyKey);
      // auto_topup:<attempt> is the worker's payment key (autotopup/store.ts): a client's key of
      // that form would take an attempt's key before the worker makes its payment.
      if (idempotencyKey.startsWith(autoTopUpPaymentKey(""))) {
        throw new InvalidInputError("idempotencyKey must not start with auto_topup:");
      }
      const earlier = await store.findPaymentByKey(userId, idempotencyKey);
      if (earlier) return checkoutOf(earlier, request);
    }
    const pack = await catalog.findPackage(packageId);
    // An archived pack is no longer sold (its payments already started still complete), nor one
    // awaiting a second admin's approval of its price.
    if (!pack || !onSale(pack)) throw new NotFoundError("package");
    const price = priceOf(pack, currency);
    const profile = await store.getBillingProfile(userId);
    if (!profile) throw new NotFoundError("user");
    const payment = await store.insertPayment({
      userId,
      packageId: pack.id,
      credits: pack.credits,
      amountMinor: price.unitAmount,
      currency: price.currency,
      creditExpiryDays: pack.creditExpiryDays,
      provider: provider.name,
      idempotencyKey,
    });
    if (!payment) {
      // The same key won a race with us a moment ago.
      const winner = idempotencyKey === null ? null : await store.findPaymentByKey(userId, idempotencyKey);
      invariant(winner, "checkout key taken, but no payment holds it");
      return checkoutOf(winner, request);
    }
    try {
      const customerId = profile.providerCustomerId ?? (await createCustomer(userId, profile.email));
      const session = await provider.createCheckoutSession({
        paymentId: payment.id,
        userId,
        productName: `${pack.name}: ${pack.credits} credits`,
        credits: pack.credits,
        amountMinor: payment.amountMinor,
        currency: payment.currency,
        customerId,
        customerEmail: profile.email,
        saveCard: profile.saveCard,
        successUrl: `${deps.publicUrl}/credits/success?session_id={CHECKOUT_SESSION_ID}`,
        cancelUrl: `${deps.publicUrl}/credits/cancel?payment_id=${payment.id}`,
        idempotencyKey: `checkout:${payment.id}`,
      });
      // A user erased while the provider made the session: it is queued for expiry, never shown.
      const stored = await store.storeCheckoutSession(payment, { id: session.sessionId, url: session.url });
      if (!stored) throw new NotFoundError("user");
      return { paymentId: payment.id, checkoutUrl: session.url };
    } catch (error) {
      // No orphan: the payment is closed as failed, so it can never be credited or shown as open.
      await inTransaction(({ payments }) => transition(payments, payment, { status: "failed" }, "provider_error"));
      if (error instanceof ProviderUnavailableError) throw new ProviderUnavailableDomainError();
      throw error;
    }
  }

  // The answer to a repeated checkout request: the first one's session, once it has one. A request
  // that is still talking to the provider is waited for (briefly); its session is never made twice.
  async function checkoutOf(
    payment: Payment,
    request: { packageId: string; currency: string | null },
  ): Promise<CheckoutStarted> {
    if (payment.packageId !== request.packageId) throw new IdempotencyConflictError();
    if (request.currency !== null && payment.currency !== request.currency) throw new IdempotencyConflictError();
    for (let waitedMs = 0; ; waitedMs += CHECKOUT_POLL_MS) {
      const current = (await store.findPayment(payment.id)) ?? payment;
      // A checkout that failed, expired or was canceled unpaid has no session worth sending to.
      if (!OPEN_STATUSES.includes(current.status) && !current.creditedAt) {
        throw new InvalidStateError(`this checkout is ${current.status}: start a new one with a new key`);
      }
      if (current.checkoutUrl) return { paymentId: current.id, checkoutUrl: current.checkoutUrl };
      if (waitedMs >= CHECKOUT_WAIT_MS) {
        throw new InvalidStateError("a checkout with this key is still starting: retry in a moment");
      }
      await sleep(CHECKOUT_POLL_MS);
    }
  }

  async function createCustomer(userId: string, email: string | null): Promise<string> {
    const created = await provider.createCustomer({ userId, email, idempotencyKey: `customer:${userId}` });
    // Two checkouts racing for a new user keep the first stored customer: one customer per user.
    // A user erased while the provider created it: the customer is queued for deletion, and the
    // checkout (its payment closed as failed by the caller) answers as for any unknown user.
    const stored = await store.setProviderCustomer(userId, created);
    if (stored === null) throw new NotFoundError("user");
    return stored;
  }

  return createCheckout;
}
