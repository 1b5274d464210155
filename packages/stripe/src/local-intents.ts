import { randomBytes } from "node:crypto";
import {
  assertChargeable,
  type CheckoutRequest,
  type Clock,
  type ListWindow,
  type OffSessionCharge,
  type PaymentIntentInfo,
  type ProviderEvent,
  ProviderRefusedError,
} from "@credits/core";

// The local cards a checkout saves: one that pays off-session, one that is declined.
export const LOCAL_CARD = "pm_local_card";
export const LOCAL_DECLINING_CARD = "pm_local_declining_card";

export const randomId = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`;

// What the off-session charges need of the local charges: to record one, and to send its event.
export interface LocalCharges {
  charged(paymentIntentId: string, amountMinor: number, currency: string): void;
  send(event: ProviderEvent): Promise<void>;
}

// Off-session charges of the saved local cards (auto top-up).
export function localIntents(charges: LocalCharges, clock: Clock) {
  // Answered once per key (like Stripe's idempotency), and reported through the event sink too:
  // the answer and payment_intent.* both arrive.
  const intents = new Map<string, PaymentIntentInfo>();
  const intentByKey = new Map<string, string>();
  const createdAt = new Map<string, Date>();
  // The local cards are the same for every user: detached per customer.
  const detached = new Set<string>();
  const cardOf = (customerId: string | null, paymentMethodId: string) => `${customerId}/${paymentMethodId}`;
  async function chargeOffSession(request: OffSessionCharge): Promise<PaymentIntentInfo> {
    assertChargeable(request.currency, request.amountMinor);
    const earlier = intents.get(intentByKey.get(request.idempotencyKey) ?? "");
    if (earlier) return { ...earlier };
    if (detached.has(cardOf(request.customerId, request.paymentMethodId))) {
      throw new ProviderRefusedError(`The PaymentMethod ${request.paymentMethodId} was detached from the customer`);
    }
    const declined = request.paymentMethodId === LOCAL_DECLINING_CARD;
    const intent: PaymentIntentInfo = {
      id: randomId("pi_local"),
      paymentId: request.paymentId,
      status: declined ? "requires_payment_method" : "succeeded",
      amountMinor: request.amountMinor,
      currency: request.currency,
      customerId: request.customerId,
      paymentMethodId: request.paymentMethodId,
      savedForOffSession: false,
      failureCode: declined ? "card_declined" : null,
    };
    intents.set(intent.id, intent);
    intentByKey.set(request.idempotencyKey, intent.id);
    createdAt.set(intent.id, clock.now());
    if (!declined) charges.charged(intent.id, intent.amountMinor, intent.currency);
    const type = declined ? "payment_intent.failed" : "payment_intent.succeeded";
    await charges.send({ id: randomId("evt_local"), type, paymentIntent: { ...intent } });
    return { ...intent };
  }

  async function retrievePaymentIntent(id: string): Promise<PaymentIntentInfo> {
    const intent = intents.get(id);
    if (!intent) throw new ProviderRefusedError(`No such payment_intent: '${id}'`);
    return { ...intent };
  }

  const listOffSessionPaymentIntents = (window: ListWindow): AsyncIterable<PaymentIntentInfo> => ({
    async *[Symbol.asyncIterator]() {
      for (const intent of [...intents.values()]) {
        const at = createdAt.get(intent.id) ?? window.createdFrom;
        if (at >= window.createdFrom && at <= window.createdTo) yield { ...intent };
      }
    },
  });

  const detachPaymentMethod = async (card: { paymentMethodId: string; customerId: string | null }) => {
    detached.add(cardOf(card.customerId, card.paymentMethodId));
  };
  // A checkout that saves the card again attaches it again.
  const attach = (customerId: string, paymentMethodId: string) => detached.delete(cardOf(customerId, paymentMethodId));

  return { chargeOffSession, retrievePaymentIntent, listOffSessionPaymentIntents, detachPaymentMethod, attach };
}

// A checkout that saves a card for auto top-up: Stripe sends payment_intent.succeeded with the
// card on the customer, which is where the platform learns the card.
export function savedCard(
  request: CheckoutRequest,
  paymentIntentId: string,
  customerId: string,
  card: string,
): ProviderEvent[] {
  if (!request.saveCard) return [];
  const paymentIntent: PaymentIntentInfo = {
    id: paymentIntentId,
    paymentId: request.paymentId,
    status: "succeeded",
    amountMinor: request.amountMinor,
    currency: request.currency,
    customerId,
    paymentMethodId: card,
    savedForOffSession: true,
    failureCode: null,
  };
  return [{ id: randomId("evt_local"), type: "payment_intent.succeeded", paymentIntent }];
}
