import {
  assertChargeable,
  type ChargeInfo,
  type CheckoutRequest,
  type CheckoutSessionInfo,
  type Clock,
  type ListWindow,
  type OffSessionCharge,
  type PaymentIntentInfo,
  type PaymentProvider,
  ProviderInProgressError,
  ProviderRefusedError,
  ProviderUnavailableError,
  systemClock,
} from "@credits/core";
import { stripeRequestDuration, tracedIterable, withSpan } from "@credits/observability";
import Stripe from "stripe";
import {
  isFields,
  StripeShapeError,
  toCharge,
  toCheckoutSession,
  toPaymentIntent,
  toReceiptUrl,
} from "./stripe-mapping.ts";
import { createRefund, listRefunds } from "./stripe-refunds.ts";
import { parseStripeWebhook } from "./stripe-webhook.ts";

export const DEFAULT_STRIPE_API_BASE = "https://api.stripe.com";
export const DEFAULT_STRIPE_TIMEOUT_MS = 10_000;
// Each call makes at most 1 + 2 attempts, so its worst case is about 3 x timeoutMs plus the
// SDK's backoff (0.5 s, then 1 s, with jitter).
export const STRIPE_MAX_NETWORK_RETRIES = 2;
// Stripe's maximum page size: fewest round trips for reconciliation.
const LIST_PAGE_SIZE = 100;
// Reconciliation lists one window (a day) at a time. A window holding more than this is not
// paged forever: the listing stops with an error that says to narrow the window.
export const MAX_LISTED_OBJECTS = 50_000;

export interface StripeProviderOptions {
  secretKey: string;
  webhookSecret: string;
  // An origin only (scheme, host, optional port), e.g. http://127.0.0.1:12111 for stripe-mock.
  apiBase?: string;
  timeoutMs?: number;
  // Webhook timestamp checks read this clock; tests can pin it.
  clock?: Clock;
  checkout?: CheckoutSettings;
}

// STRIPE_ALLOW_PROMOTION_CODES and STRIPE_AUTOMATIC_TAX: off unless set.
export interface CheckoutSettings {
  allowPromotionCodes: boolean;
  automaticTax: boolean;
}

interface Connection {
  host: string;
  port: number;
  protocol: "http" | "https";
}

// The SDK takes host, port and protocol separately and always adds /v1 itself, so an apiBase
// with a path would silently be ignored: refuse it instead. The URL is not echoed in errors, in
// case it carries credentials.
function connectionFor(apiBase: string): Connection {
  let url: URL;
  try {
    url = new URL(apiBase);
  } catch {
    throw new Error("Stripe apiBase is not a valid URL");
  }
  const protocol = url.protocol === "https:" ? "https" : url.protocol === "http:" ? "http" : null;
  if (!protocol) throw new Error("Stripe apiBase must use http or https");
  if (url.pathname !== "/" || url.search || url.hash || url.username || url.password) {
    throw new Error("Stripe apiBase must be an origin such as https://api.stripe.com (no path, query or credentials)");
  }
  const port = url.port ? Number(url.port) : protocol === "https" ? 443 : 80;
  // URL keeps the brackets of an IPv6 literal; the SDK puts host into a URL itself.
  return { host: url.hostname, port, protocol };
}

// Turns an SDK error into the port's vocabulary. The SDK error itself is never attached as a
// cause: it carries raw response bodies and headers, and no SDK type may leave this package.
function translated(error: unknown, action: string): Error {
  const errors = Stripe.errors;
  if (!(error instanceof errors.StripeError)) {
    if (error instanceof StripeShapeError)
      return new Error(`stripe returned an unexpected ${action} response: ${error.message}`);
    return error instanceof Error ? error : new Error(String(error));
  }
  const request = error.requestId ? ` (request ${error.requestId})` : "";
  if (error instanceof errors.StripeConnectionError) {
    const why = /timeout/i.test(error.message) ? "timed out" : "could not connect";
    return new ProviderUnavailableError(`stripe ${action} failed: ${why}`);
  }
  const status = error.statusCode ?? 0;
  // A concurrent request with the same idempotency key (409 idempotency_key_in_use, whatever the
  // SDK's class for it), or the object locked by another request (lock_timeout, a 429).
  if (status === 409 || error.code === "idempotency_key_in_use" || error.code === "lock_timeout") {
    return new ProviderInProgressError(`stripe ${action}: another request is in progress (status ${status})${request}`);
  }
  if (
    error instanceof errors.StripeAPIError ||
    error instanceof errors.StripeRateLimitError ||
    status >= 500 ||
    status === 0
  ) {
    return new ProviderUnavailableError(`stripe ${action} failed: status ${status || "unknown"}${request}`);
  }
  if (error instanceof errors.StripeAuthenticationError || error instanceof errors.StripePermissionError) {
    // Stripe's message can name (a masked form of) the key; say what to check instead.
    return new Error(`stripe refused the API key during ${action} (status ${status})${request}`);
  }
  // A 4xx we caused (bad parameter, unknown id, idempotency key reused with other parameters):
  // Stripe's message says exactly what, and contains no secret.
  return new ProviderRefusedError(error.message);
}

// Every Stripe API call runs in a span (its fetch requests, retries included, are the span's
// children) and is timed by action and outcome.
async function call<T>(action: string, work: () => Promise<T>): Promise<T> {
  const timer = stripeRequestDuration.startTimer({ action });
  try {
    const result = await withSpan(`stripe ${action}`, { "app.stripe.action": action }, work);
    timer({ outcome: "ok" });
    return result;
  } catch (error) {
    timer({ outcome: "error" });
    throw translated(error, action);
  }
}

// Lazy and re-iterable: each iteration opens its own listing (the SDK pages through
// `has_more`/`starting_after`), and nothing is requested until someone iterates.
function listing<T>(action: string, open: () => AsyncIterable<unknown>, map: (value: unknown) => T): AsyncIterable<T> {
  return tracedIterable(`stripe ${action}`, { "app.stripe.action": action }, untracedListing(action, open, map));
}

function untracedListing<T>(
  action: string,
  open: () => AsyncIterable<unknown>,
  map: (value: unknown) => T,
): AsyncIterable<T> {
  return {
    async *[Symbol.asyncIterator]() {
      let count = 0;
      try {
        for await (const item of open()) {
          count += 1;
          if (count > MAX_LISTED_OBJECTS) {
            throw new Error(`${action} stopped after ${MAX_LISTED_OBJECTS} objects: narrow the window`);
          }
          yield map(item);
        }
      } catch (error) {
        throw translated(error, action);
      }
    },
  };
}

// Stripe cannot filter a listing by metadata: our off-session charges carry kind=auto_topup.
async function* offSessionOnly(intents: AsyncIterable<Stripe.PaymentIntent>): AsyncIterable<Stripe.PaymentIntent> {
  for await (const intent of intents) if (intent.metadata?.kind === "auto_topup") yield intent;
}

function createdRange(window: ListWindow): { gte: number; lte: number } {
  const gte = Math.floor(window.createdFrom.getTime() / 1000);
  const lte = Math.floor(window.createdTo.getTime() / 1000);
  if (!Number.isFinite(gte) || !Number.isFinite(lte) || gte > lte) {
    throw new Error("list window must have createdFrom <= createdTo");
  }
  return { gte, lte };
}

function assertCheckoutRequest(request: CheckoutRequest): void {
  // Stripe's unit_amount is in the currency's own minor unit (money.ts), lowercase code.
  assertChargeable(request.currency, request.amountMinor);
  if (!request.idempotencyKey) throw new Error("checkout idempotencyKey is required");
}

async function checkoutSession(
  stripe: Stripe,
  request: CheckoutRequest,
  settings: CheckoutSettings,
): Promise<{ sessionId: string; url: string }> {
  assertCheckoutRequest(request);
  const metadata = { paymentId: request.paymentId, userId: request.userId };
  const session = await stripe.checkout.sessions.create(
    {
      mode: "payment",
      line_items: [
        {
          price_data: {
            currency: request.currency,
            unit_amount: request.amountMinor,
            product_data: { name: request.productName },
            // The pack's price is before tax, so the session's total is its subtotal less
            // discounts plus tax: the sum the payment's check relies on (payment-facts.ts).
            ...(settings.automaticTax ? { tax_behavior: "exclusive" as const } : {}),
          },
          quantity: 1,
        },
      ],
      ...(settings.allowPromotionCodes ? { allow_promotion_codes: true } : {}),
      ...(settings.automaticTax ? { automatic_tax: { enabled: true } } : {}),
      // Stripe Tax needs the customer's address: an existing customer keeps the one typed at checkout.
      ...(settings.automaticTax && request.customerId ? { customer_update: { address: "auto" as const } } : {}),
      client_reference_id: request.paymentId,
      metadata,
      // On the PaymentIntent too, so charges, refunds and disputes (which point at the
      // PaymentIntent, not the session) can be traced back to our payment in the dashboard.
      payment_intent_data: {
        metadata,
        // Auto top-up: the card is kept on the customer for off-session charges.
        ...(request.saveCard ? { setup_future_usage: "off_session" as const } : {}),
      },
      // Reuse the user's customer; otherwise have Stripe create one, so the next purchase
      // (and GDPR erasure) has a customer id to work with.
      ...(request.customerId
        ? { customer: request.customerId }
        : {
            customer_creation: "always" as const,
            ...(request.customerEmail ? { customer_email: request.customerEmail } : {}),
          }),
      success_url: request.successUrl,
      cancel_url: request.cancelUrl,
    },
    { idempotencyKey: request.idempotencyKey },
  );
  if (!session.url) throw new Error("stripe returned a checkout session without a url");
  return { sessionId: session.id, url: session.url };
}

// A saved card charged without the customer. A decline or a required authentication (3-D Secure)
// is a 402 card error carrying the PaymentIntent: answered as that PaymentIntent, not as an error.
async function chargeOffSession(stripe: Stripe, request: OffSessionCharge): Promise<PaymentIntentInfo> {
  assertChargeable(request.currency, request.amountMinor);
  try {
    const intent = await stripe.paymentIntents.create(
      {
        amount: request.amountMinor,
        currency: request.currency,
        customer: request.customerId,
        payment_method: request.paymentMethodId,
        off_session: true,
        confirm: true,
        description: request.description,
        metadata: { paymentId: request.paymentId, userId: request.userId, kind: "auto_topup" },
      },
      { idempotencyKey: request.idempotencyKey },
    );
    return toPaymentIntent(intent);
  } catch (error) {
    if (error instanceof Stripe.errors.StripeCardError && isFields(error.payment_intent)) {
      return toPaymentIntent(error.payment_intent);
    }
    throw error;
  }
}

export function createStripeProvider(options: StripeProviderOptions): PaymentProvider {
  const { secretKey, webhookSecret, clock = systemClock } = options;
  const checkout = options.checkout ?? { allowPromotionCodes: false, automaticTax: false };
  if (!secretKey) throw new Error("Stripe secret key is required");
  if (!webhookSecret) throw new Error("Stripe webhook secret is required");
  const timeoutMs = options.timeoutMs ?? DEFAULT_STRIPE_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) throw new Error("timeoutMs must be a positive integer");

  const stripe = new Stripe(secretKey, {
    ...connectionFor(options.apiBase ?? DEFAULT_STRIPE_API_BASE),
    maxNetworkRetries: STRIPE_MAX_NETWORK_RETRIES,
    timeout: timeoutMs,
    // The fetch client's timeout covers the whole request, body included (the Node http client's
    // is an idle-socket timeout that a slow trickle keeps resetting). fetch is looked up per call
    // so that interception installed after start-up (msw in tests, tracing) sees the requests.
    httpClient: Stripe.createFetchHttpClient((input, init) => globalThis.fetch(input, init)),
    telemetry: false,
  });

  return {
    name: "stripe",

    createCustomer: ({ userId, email, idempotencyKey }) =>
      call("customer create", async () => {
        const customer = await stripe.customers.create(
          { ...(email ? { email } : {}), metadata: { userId } },
          { idempotencyKey },
        );
        return customer.id;
      }),

    createCheckoutSession: (request) =>
      call("checkout session create", () => checkoutSession(stripe, request, checkout)),

    retrieveCheckoutSession: (sessionId) =>
      call("checkout session retrieve", async () =>
        toCheckoutSession(await stripe.checkout.sessions.retrieve(sessionId)),
      ),

    expireCheckoutSession: (sessionId) =>
      call("checkout session expire", async () => toCheckoutSession(await stripe.checkout.sessions.expire(sessionId))),

    chargeOffSession: (request) => call("payment intent create", () => chargeOffSession(stripe, request)),

    retrievePaymentIntent: (paymentIntentId) =>
      call("payment intent retrieve", async () =>
        toPaymentIntent(await stripe.paymentIntents.retrieve(paymentIntentId)),
      ),

    parseWebhook: (rawBody, signatureHeader) =>
      parseStripeWebhook({
        rawBody,
        signatureHeader,
        secret: webhookSecret,
        constructEvent: stripe.webhooks.constructEvent.bind(stripe.webhooks),
        nowMs: clock.now().getTime(),
      }),

    listCheckoutSessions: (window): AsyncIterable<CheckoutSessionInfo> =>
      listing(
        "checkout session list",
        () => stripe.checkout.sessions.list({ created: createdRange(window), limit: LIST_PAGE_SIZE }),
        toCheckoutSession,
      ),

    listCharges: (window): AsyncIterable<ChargeInfo> =>
      listing(
        "charge list",
        () => stripe.charges.list({ created: createdRange(window), limit: LIST_PAGE_SIZE }),
        toCharge,
      ),

    listOffSessionPaymentIntents: (window): AsyncIterable<PaymentIntentInfo> =>
      listing(
        "payment intent list",
        () => offSessionOnly(stripe.paymentIntents.list({ created: createdRange(window), limit: LIST_PAGE_SIZE })),
        toPaymentIntent,
      ),

    createRefund: (request) => call("refund create", () => createRefund(stripe, request)),

    listRefunds: (paymentIntentId) => call("refund list", () => listRefunds(stripe, paymentIntentId)),

    receiptUrl: ({ paymentIntentId }) =>
      call("receipt retrieve", async () =>
        toReceiptUrl(await stripe.paymentIntents.retrieve(paymentIntentId, { expand: ["latest_charge"] })),
      ),

    detachPaymentMethod: ({ paymentMethodId }) =>
      call("payment method detach", async () => {
        try {
          await stripe.paymentMethods.detach(paymentMethodId);
        } catch (error) {
          // Detached already (a retry, the dashboard) or gone: the card can no longer be charged.
          if (error instanceof Stripe.errors.StripeInvalidRequestError && notAttached(error)) return;
          throw error;
        }
      }),

    deleteCustomer: (customerId) =>
      call("customer delete", async () => {
        try {
          await stripe.customers.del(customerId);
        } catch (error) {
          // Already gone (a retried erasure, or deleted in the dashboard): the goal is reached.
          if (error instanceof Stripe.errors.StripeInvalidRequestError && error.code === "resource_missing") return;
          throw error;
        }
      }),
  };
}

// Stripe answers a detach of a PaymentMethod on no customer with a 400 that has no code, only this
// message; an unknown one is resource_missing.
const notAttached = (error: { code?: string; message: string }) =>
  error.code === "resource_missing" || /is not attached to a customer/.test(error.message);
