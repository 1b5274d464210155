import {
  assertChargeable,
  type ChargeInfo,
  type CheckoutRequest,
  type CheckoutSessionInfo,
  type Clock,
  type ListWindow,
  type PaymentProvider,
  type ProviderEvent,
  ProviderRefusedError,
  type RefundInfo,
  type RefundRequest,
  systemClock,
  WebhookSignatureError,
} from "@credits/core";
import { LOCAL_CARD, LOCAL_DECLINING_CARD, localIntents, randomId, savedCard } from "./local-intents.ts";

// A payment provider for zero-config runs (no Stripe key): checkout sessions live in memory and
// a local page "pays" them by calling complete(), which returns the events Stripe would have
// sent, for the caller to feed through the same handlers as real webhooks.
// It holds sessions in our own shape (CheckoutSessionInfo, ProviderEvent), never Stripe's JSON: it
// is a product feature standing in for Stripe, not a fake of its API (the tests' fake of Stripe's
// API is the msw mock in test/msw, one definition for in-process and out-of-process users).

// pay_declining_card: pays, and (when the checkout saves a card for auto top-up) saves a card that
// every later off-session charge declines, to try the failure path from a fresh clone.
// pay_with_code and pay_free (only with STRIPE_ALLOW_PROMOTION_CODES): a promotion code takes a
// quarter of the price, or all of it; Stripe then completes the session with nothing to pay (no
// PaymentIntent, no charge, payment_status no_payment_required).
export type LocalOutcome = "pay" | "pay_declining_card" | "pay_with_code" | "pay_free" | "fail" | "cancel";
export const localOutcomes: readonly LocalOutcome[] = [
  "pay",
  "pay_declining_card",
  "pay_with_code",
  "pay_free",
  "fail",
  "cancel",
];
export const promotionOutcomes: readonly LocalOutcome[] = ["pay_with_code", "pay_free"];

// What a promotion code of this outcome takes off the price.
const discountOf = (outcome: LocalOutcome, price: number) =>
  outcome === "pay_free" ? price : outcome === "pay_with_code" ? Math.floor(price / 4) : 0;

export { LOCAL_CARD, LOCAL_DECLINING_CARD } from "./local-intents.ts";

export interface LocalCompletion {
  // The events Stripe sends for this outcome, in order.
  events: ProviderEvent[];
  // Where Stripe would send the customer next: success_url (with {CHECKOUT_SESSION_ID} filled
  // in) once the session completed, cancel_url when they abandoned it.
  redirectUrl: string;
}

export type LocalProvider = PaymentProvider & {
  // null when the session is unknown or no longer open: Stripe sends nothing for a session that
  // already completed or expired.
  complete(sessionId: string, outcome: LocalOutcome): LocalCompletion | null;
  // Where the events Stripe would send on its own (charge.refunded after a refund, checkout.session.expired
  // after an expiry) are delivered: the same event handler as the checkout page's. Unset: not sent.
  onEvent(sink: (event: ProviderEvent) => Promise<unknown>): void;
  // The session saves a card for auto top-up (its page offers the declining card too).
  savesCard(sessionId: string): boolean;
  // The checkout page offers promotion codes (STRIPE_ALLOW_PROMOTION_CODES).
  promotionCodes: boolean;
};

// A dev process is not meant to hold sessions forever; past this the oldest are forgotten.
export const MAX_LOCAL_SESSIONS = 10_000;

interface LocalSession {
  info: CheckoutSessionInfo;
  request: CheckoutRequest;
  // Kept apart from info.url, which (as on Stripe) is null once the session is no longer open,
  // while an idempotent replay of the create still answers the original url.
  checkoutUrl: string;
  createdAt: Date;
}

// The charge of a paid local session, and the refunds made against it.
interface LocalCharge {
  info: ChargeInfo;
  refundsByKey: Map<string, { request: RefundRequest; refund: RefundInfo }>;
}

// What Stripe compares when an idempotency key is reused: a different request under the same key
// is an error there, so it is one here.
function sameRequest(a: CheckoutRequest, b: CheckoutRequest): boolean {
  return (
    a.paymentId === b.paymentId &&
    a.userId === b.userId &&
    a.amountMinor === b.amountMinor &&
    a.currency === b.currency &&
    a.productName === b.productName &&
    a.customerId === b.customerId
  );
}

// The sessions this process made, at most MAX_LOCAL_SESSIONS (the oldest forgotten first), by
// id and by idempotency key.
function sessionMemory() {
  // Map iteration order is insertion order: the first key is the oldest session.
  const sessions = new Map<string, LocalSession>();
  const sessionByKey = new Map<string, string>();
  function find(sessionId: string): LocalSession {
    const session = sessions.get(sessionId);
    // Stripe's wording for an unknown id, so callers see the same failure either way.
    if (!session) throw new Error(`No such checkout.session: '${sessionId}'`);
    return session;
  }

  function remember(session: LocalSession) {
    sessions.set(session.info.id, session);
    sessionByKey.set(session.request.idempotencyKey, session.info.id);
    for (const [oldest, old] of sessions) {
      if (sessions.size <= MAX_LOCAL_SESSIONS) break;
      sessions.delete(oldest);
      sessionByKey.delete(old.request.idempotencyKey);
    }
  }

  return { sessions, sessionByKey, find, remember };
}

// The charges of paid local sessions, by payment intent id, and the refunds made against them; in
// memory like the sessions (a restarted dev server cannot refund older ones).
function localRefunds() {
  const charges = new Map<string, LocalCharge>();
  let sink: ((event: ProviderEvent) => Promise<unknown>) | null = null;

  function charged(paymentIntentId: string, amountMinor: number, currency: string) {
    const info = {
      id: randomId("ch_local"),
      paymentIntentId,
      amountMinor,
      amountRefundedMinor: 0,
      currency,
      receiptUrl: null,
    };
    charges.set(paymentIntentId, { info, refundsByKey: new Map() });
  }

  async function createRefund(request: RefundRequest): Promise<RefundInfo> {
    const charge = charges.get(request.paymentIntentId);
    if (!charge) throw new ProviderRefusedError(`No such payment_intent: '${request.paymentIntentId}'`);
    const earlier = charge.refundsByKey.get(request.idempotencyKey);
    if (earlier) {
      if (earlier.request.amountMinor !== request.amountMinor) {
        throw new ProviderRefusedError(
          "Keys for idempotent requests can only be used with the same parameters they were first used with.",
        );
      }
      return earlier.refund;
    }
    const left = charge.info.amountMinor - charge.info.amountRefundedMinor;
    if (request.amountMinor > left) {
      throw new ProviderRefusedError(
        `Refund amount (${request.amountMinor}) is greater than unrefunded amount on charge (${left})`,
      );
    }
    charge.info = { ...charge.info, amountRefundedMinor: charge.info.amountRefundedMinor + request.amountMinor };
    const refund: RefundInfo = {
      ...{ id: randomId("re_local"), status: "succeeded", amountMinor: request.amountMinor, failureReason: null },
      ...{ paymentIntentId: request.paymentIntentId, chargeId: charge.info.id, charge: { ...charge.info } },
      refundRequestId: request.metadata.refundId ?? null,
    };
    charge.refundsByKey.set(request.idempotencyKey, { request: { ...request }, refund });
    // Stripe also sends charge.refunded; here it arrives before the answer (one of the two
    // orders the refund path must handle). Its failure is not the refund's: the answer carries
    // the same fact (so too for the expired event of an expired session).
    await send({ id: randomId("evt_local"), type: "charge.refunded", charge: { ...charge.info } });
    return refund;
  }

  async function send(event: ProviderEvent): Promise<void> {
    await sink?.(event).catch(() => {});
  }

  return {
    charged,
    createRefund,
    // Each with its charge as it now stands, as Stripe's list (charge expanded) answers it.
    listRefunds: async (id: string) => {
      const charge = charges.get(id);
      if (!charge) return [];
      return [...charge.refundsByKey.values()].map((made) => ({ ...made.refund, charge: { ...charge.info } }));
    },
    send,
    onEvent(next: (event: ProviderEvent) => Promise<unknown>) {
      sink = next;
    },
  };
}

// As on Stripe: only an open session can be expired, and checkout.session.expired follows (here
// before the answer, one of the two orders the cancel path must handle).
async function expireSession(
  session: LocalSession,
  send: (event: ProviderEvent) => Promise<void>,
): Promise<CheckoutSessionInfo> {
  if (session.info.status !== "open") {
    throw new ProviderRefusedError(
      `Only Checkout Sessions with a status in ["open"] can be expired (this one is ${session.info.status})`,
    );
  }
  session.info = { ...session.info, status: "expired", paymentStatus: "unpaid", url: null };
  await send({ id: randomId("evt_local"), type: "checkout.expired", session: { ...session.info } });
  return { ...session.info };
}

// A new session, open and unpaid. No tax here; a promotion code is applied when it is paid.
function openSession(id: string, url: string, request: CheckoutRequest): CheckoutSessionInfo {
  return {
    id,
    paymentId: request.paymentId,
    status: "open",
    paymentStatus: "unpaid",
    amountTotalMinor: request.amountMinor,
    amountSubtotalMinor: request.amountMinor,
    amountDiscountMinor: 0,
    amountTaxMinor: 0,
    currency: request.currency,
    paymentIntentId: null,
    // Like Stripe, a customer exists once the session completes (customer_creation: always).
    customerId: request.customerId,
    url,
  };
}

export function createLocalProvider({
  publicUrl,
  clock = systemClock,
  allowPromotionCodes = false,
}: {
  publicUrl: string;
  clock?: Clock;
  allowPromotionCodes?: boolean;
}): LocalProvider {
  const base = publicUrl.replace(/\/+$/, "");
  const { sessions, sessionByKey, find, remember } = sessionMemory();
  const refunds = localRefunds();
  const intents = localIntents(refunds, clock);

  const provider: LocalProvider = {
    name: "local",

    createCustomer: async ({ userId }) => `cus_local_${userId}`,

    createCheckoutSession: async (request) => {
      // What Stripe would refuse, refused here too.
      assertChargeable(request.currency, request.amountMinor);
      const existingId = sessionByKey.get(request.idempotencyKey);
      const existing = existingId ? sessions.get(existingId) : undefined;
      if (existing) {
        if (!sameRequest(existing.request, request)) {
          throw new Error(
            "Keys for idempotent requests can only be used with the same parameters they were first used with.",
          );
        }
        return { sessionId: existing.info.id, url: existing.checkoutUrl };
      }
      const id = randomId("cs_local");
      const url = `${base}/checkout/local/${id}`;
      remember({
        request: { ...request },
        checkoutUrl: url,
        createdAt: clock.now(),
        info: openSession(id, url, request),
      });
      return { sessionId: id, url };
    },

    retrieveCheckoutSession: async (sessionId) => ({ ...find(sessionId).info }),

    expireCheckoutSession: async (sessionId) => expireSession(find(sessionId), refunds.send),

    parseWebhook: () => {
      throw new WebhookSignatureError("the local payment provider receives no webhooks");
    },

    listCheckoutSessions: (window: ListWindow): AsyncIterable<CheckoutSessionInfo> => ({
      async *[Symbol.asyncIterator]() {
        // A snapshot, so sessions created while the caller iterates do not disturb it.
        for (const session of [...sessions.values()]) {
          if (session.createdAt >= window.createdFrom && session.createdAt <= window.createdTo) {
            yield { ...session.info };
          }
        }
      },
    }),

    listCharges: () => ({
      async *[Symbol.asyncIterator]() {
        // No money moves locally, so there are no charges to reconcile.
      },
    }),

    deleteCustomer: async () => {},

    // Its own page, served by the app (owner or admin only).
    receiptUrl: async ({ id }) => `${base}/receipts/${encodeURIComponent(id)}`,

    createRefund: refunds.createRefund,
    listRefunds: refunds.listRefunds,
    onEvent: refunds.onEvent,
    chargeOffSession: intents.chargeOffSession,
    retrievePaymentIntent: intents.retrievePaymentIntent,
    listOffSessionPaymentIntents: intents.listOffSessionPaymentIntents,
    detachPaymentMethod: intents.detachPaymentMethod,
    savesCard: (sessionId) => sessions.get(sessionId)?.request.saveCard === true,
    promotionCodes: allowPromotionCodes,

    complete(sessionId, outcome) {
      const session = sessions.get(sessionId);
      if (session?.info.status !== "open") return null;
      if (promotionOutcomes.includes(outcome) && !allowPromotionCodes) return null;
      const { request } = session;
      const customerId = request.customerId ?? `cus_local_${request.userId}`;
      const event = (type: "checkout.completed" | "checkout.async_failed" | "checkout.expired"): ProviderEvent => ({
        id: randomId("evt_local"),
        type,
        session: { ...session.info },
      });
      const successUrl = request.successUrl.replaceAll("{CHECKOUT_SESSION_ID}", encodeURIComponent(sessionId));
      // As on Stripe, backing out leaves the session open: the cancel page expires it.
      if (outcome === "cancel") return { events: [], redirectUrl: request.cancelUrl };
      const paid = outcome !== "fail";
      const discount = discountOf(outcome, request.amountMinor);
      const total = request.amountMinor - discount;
      // Nothing to pay: no PaymentIntent, no charge, no card saved, only checkout.session.completed.
      const paymentIntentId = paid && total === 0 ? null : randomId("pi_local");
      if (paid && paymentIntentId) refunds.charged(paymentIntentId, total, request.currency);
      const card = outcome === "pay_declining_card" ? LOCAL_DECLINING_CARD : LOCAL_CARD;
      if (paid && paymentIntentId && request.saveCard) intents.attach(customerId, card);
      session.info = {
        ...session.info,
        status: "complete",
        paymentStatus: !paid ? "unpaid" : paymentIntentId ? "paid" : "no_payment_required",
        amountTotalMinor: total,
        amountDiscountMinor: discount,
        paymentIntentId,
        customerId,
        url: null,
      };
      // A failure is a delayed payment method that later fails: Stripe first completes the
      // session unpaid (and sends the customer to success_url), then reports the failure.
      if (!paid) {
        return { events: [event("checkout.completed"), event("checkout.async_failed")], redirectUrl: successUrl };
      }
      const cardEvents = paymentIntentId ? savedCard(request, paymentIntentId, customerId, card) : [];
      return { events: [event("checkout.completed"), ...cardEvents], redirectUrl: successUrl };
    },
  };
  return provider;
}
