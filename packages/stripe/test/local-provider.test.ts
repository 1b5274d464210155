import { type CheckoutRequest, type ProviderEvent, ProviderRefusedError, WebhookSignatureError } from "@credits/core";
import { describe, expect, it } from "vitest";
import { createLocalProvider, LOCAL_CARD, LOCAL_DECLINING_CARD } from "../src/index.ts";

let nowMs = Date.parse("2026-11-01T12:00:00Z");
const clock = { now: () => new Date(nowMs) };
const local = () => createLocalProvider({ publicUrl: "http://localhost:3000/", clock });

const checkoutRequest = (overrides: Partial<CheckoutRequest> = {}): CheckoutRequest => ({
  paymentId: "pay-1",
  userId: "user-1",
  productName: "500 credits",
  credits: 500,
  amountMinor: 499,
  currency: "eur",
  customerId: null,
  customerEmail: "ada@example.com",
  successUrl: "http://localhost:3000/checkout/success?session_id={CHECKOUT_SESSION_ID}",
  cancelUrl: "http://localhost:3000/checkout/cancel",
  idempotencyKey: "checkout:pay-1",
  ...overrides,
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

describe("local provider", () => {
  it("creates an open session with a local checkout url", async () => {
    const provider = local();
    const { sessionId, url } = await provider.createCheckoutSession(checkoutRequest());
    expect(provider.name).toBe("local");
    expect(sessionId).toMatch(/^cs_local_[0-9a-f]{24}$/);
    expect(url).toBe(`http://localhost:3000/checkout/local/${sessionId}`);
    expect(await provider.retrieveCheckoutSession(sessionId)).toEqual({
      id: sessionId,
      paymentId: "pay-1",
      status: "open",
      paymentStatus: "unpaid",
      amountTotalMinor: 499,
      amountSubtotalMinor: 499,
      amountDiscountMinor: 0,
      amountTaxMinor: 0,
      currency: "eur",
      paymentIntentId: null,
      customerId: null,
      url,
    });
  });

  it("returns the same session for the same idempotency key, and refuses other parameters under it", async () => {
    const provider = local();
    const first = await provider.createCheckoutSession(checkoutRequest());
    expect(await provider.createCheckoutSession(checkoutRequest())).toEqual(first);
    await expect(provider.createCheckoutSession(checkoutRequest({ amountMinor: 1 }))).rejects.toThrow(
      /same parameters/,
    );
    const other = await provider.createCheckoutSession(
      checkoutRequest({ idempotencyKey: "checkout:pay-2", paymentId: "pay-2" }),
    );
    expect(other.sessionId).not.toBe(first.sessionId);
  });

  it("pay: one checkout.completed, paid, and the session reflects it", async () => {
    const provider = local();
    const { sessionId } = await provider.createCheckoutSession(checkoutRequest());
    const completion = provider.complete(sessionId, "pay");
    const events = completion?.events ?? [];

    // Stripe fills in the session id placeholder of success_url.
    expect(completion?.redirectUrl).toBe(`http://localhost:3000/checkout/success?session_id=${sessionId}`);
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event?.id).toMatch(/^evt_local_[0-9a-f]{24}$/);
    expect(event).toMatchObject({
      type: "checkout.completed",
      session: {
        id: sessionId,
        paymentId: "pay-1",
        status: "complete",
        paymentStatus: "paid",
        amountTotalMinor: 499,
        amountSubtotalMinor: 499,
        amountDiscountMinor: 0,
        amountTaxMinor: 0,
        currency: "eur",
        customerId: "cus_local_user-1",
      },
    });
    const session = await provider.retrieveCheckoutSession(sessionId);
    expect(session).toMatchObject({ status: "complete", paymentStatus: "paid" });
    expect(session.paymentIntentId).toMatch(/^pi_local_/);
  });

  it("fail: the session completes unpaid, then checkout.async_failed, as Stripe sends a delayed failure", async () => {
    const provider = local();
    const { sessionId } = await provider.createCheckoutSession(checkoutRequest());
    const completion = provider.complete(sessionId, "fail");
    const events = completion?.events ?? [];

    expect(completion?.redirectUrl).toBe(`http://localhost:3000/checkout/success?session_id=${sessionId}`);
    expect(events.map((event) => event.type)).toEqual(["checkout.completed", "checkout.async_failed"]);
    for (const event of events) {
      expect(event).toMatchObject({ session: { id: sessionId, status: "complete", paymentStatus: "unpaid" } });
    }
    expect(new Set(events.map((event) => event.id)).size).toBe(2);
    expect(await provider.retrieveCheckoutSession(sessionId)).toMatchObject({
      status: "complete",
      paymentStatus: "unpaid",
    });
  });

  it("cancel: back to cancel_url with no event; the session stays open until it is expired", async () => {
    const provider = local();
    const delivered: unknown[] = [];
    provider.onEvent(async (event) => delivered.push(event));
    const { sessionId } = await provider.createCheckoutSession(checkoutRequest());
    expect(provider.complete(sessionId, "cancel")).toEqual({
      events: [],
      redirectUrl: "http://localhost:3000/checkout/cancel",
    });
    expect(await provider.retrieveCheckoutSession(sessionId)).toMatchObject({ status: "open" });
    expect(await provider.expireCheckoutSession(sessionId)).toMatchObject({
      id: sessionId,
      status: "expired",
      paymentStatus: "unpaid",
      url: null,
    });
    expect(delivered).toEqual([
      {
        id: expect.stringMatching(/^evt_local_/),
        type: "checkout.expired",
        session: expect.objectContaining({ id: sessionId, status: "expired" }),
      },
    ]);
    // As on Stripe, only an open session can be expired, or paid.
    await expect(provider.expireCheckoutSession(sessionId)).rejects.toThrow(ProviderRefusedError);
    expect(provider.complete(sessionId, "pay")).toBeNull();
  });

  it("a completed session cannot be expired", async () => {
    const provider = local();
    const { sessionId } = await provider.createCheckoutSession(checkoutRequest());
    provider.complete(sessionId, "pay");
    await expect(provider.expireCheckoutSession(sessionId)).rejects.toThrow(/status in \["open"\]/);
    expect(await provider.retrieveCheckoutSession(sessionId)).toMatchObject({
      status: "complete",
      paymentStatus: "paid",
    });
  });

  it("completes nothing (null) for a session that is no longer open", async () => {
    const provider = local();
    const { sessionId, url } = await provider.createCheckoutSession(checkoutRequest());
    provider.complete(sessionId, "pay");
    expect(provider.complete(sessionId, "pay")).toBeNull();
    expect(provider.complete(sessionId, "cancel")).toBeNull();
    expect(await provider.retrieveCheckoutSession(sessionId)).toMatchObject({
      status: "complete",
      paymentStatus: "paid",
    });
    // As on Stripe, a finished session has no url, but a replayed create still answers the original.
    expect((await provider.retrieveCheckoutSession(sessionId)).url).toBeNull();
    expect(await provider.createCheckoutSession(checkoutRequest())).toEqual({ sessionId, url });
  });

  it("refuses unknown sessions (retrieve in Stripe's words; complete with null)", async () => {
    const provider = local();
    await expect(provider.retrieveCheckoutSession("cs_local_nope")).rejects.toThrow(
      "No such checkout.session: 'cs_local_nope'",
    );
    expect(provider.complete("cs_local_nope", "pay")).toBeNull();
  });

  it("receives no webhooks", () => {
    expect(() => local().parseWebhook("{}", "t=1,v1=abc")).toThrow(WebhookSignatureError);
    expect(() => local().parseWebhook("{}", null)).toThrow(WebhookSignatureError);
  });

  it("lists the sessions created in the window, and no charges", async () => {
    const provider = local();
    nowMs = Date.parse("2026-11-01T12:00:00Z");
    const { sessionId: inside } = await provider.createCheckoutSession(checkoutRequest());
    nowMs = Date.parse("2026-11-03T12:00:00Z");
    await provider.createCheckoutSession(checkoutRequest({ idempotencyKey: "checkout:pay-2", paymentId: "pay-2" }));

    const window = { createdFrom: new Date("2026-11-01T00:00:00Z"), createdTo: new Date("2026-11-01T23:59:59Z") };
    expect((await collect(provider.listCheckoutSessions(window))).map((s) => s.id)).toEqual([inside]);
    expect(await collect(provider.listCharges(window))).toEqual([]);
  });

  it("names customers after the user and deletes them as a no-op", async () => {
    const provider = local();
    expect(await provider.createCustomer({ userId: "user-7", email: null, idempotencyKey: "k" })).toBe(
      "cus_local_user-7",
    );
    await expect(provider.deleteCustomer("cus_local_user-7")).resolves.toBeUndefined();
  });

  it("reuses the given customer on completion", async () => {
    const provider = local();
    const { sessionId } = await provider.createCheckoutSession(checkoutRequest({ customerId: "cus_local_known" }));
    expect(provider.complete(sessionId, "pay")?.events[0]).toMatchObject({
      session: { customerId: "cus_local_known" },
    });
  });
});

describe("local provider refunds", () => {
  async function paid() {
    const provider = local();
    const events: ProviderEvent[] = [];
    provider.onEvent(async (event) => {
      events.push(event);
    });
    const { sessionId } = await provider.createCheckoutSession(checkoutRequest());
    provider.complete(sessionId, "pay");
    const { paymentIntentId } = await provider.retrieveCheckoutSession(sessionId);
    if (!paymentIntentId) throw new Error("a paid session has a payment intent");
    return { provider, events, paymentIntentId };
  }
  const request = (paymentIntentId: string, amountMinor: number, idempotencyKey = `refund:${amountMinor}`) => ({
    paymentIntentId,
    amountMinor,
    metadata: {},
    idempotencyKey,
  });

  it("refunds the charge, answers its cumulative refunded amount, and sends charge.refunded first", async () => {
    const { provider, events, paymentIntentId } = await paid();
    const first = await provider.createRefund(request(paymentIntentId, 200));
    expect(first).toMatchObject({ id: expect.stringMatching(/^re_local_/), status: "succeeded", amountMinor: 200 });
    expect(first.charge).toMatchObject({
      paymentIntentId,
      amountMinor: 499,
      amountRefundedMinor: 200,
      currency: "eur",
    });
    expect(events).toEqual([
      { id: expect.stringMatching(/^evt_local_/), type: "charge.refunded", charge: first.charge },
    ]);
    const second = await provider.createRefund(request(paymentIntentId, 299));
    expect(second.charge?.amountRefundedMinor).toBe(499);
  });

  it("the same key answers the same refund; more than is left, other parameters or an unknown intent are refused", async () => {
    const { provider, events, paymentIntentId } = await paid();
    const first = await provider.createRefund(request(paymentIntentId, 200, "k1"));
    expect(await provider.createRefund(request(paymentIntentId, 200, "k1"))).toEqual(first);
    expect(events).toHaveLength(1);
    await expect(provider.createRefund(request(paymentIntentId, 201, "k1"))).rejects.toThrow(ProviderRefusedError);
    await expect(provider.createRefund(request(paymentIntentId, 300, "k2"))).rejects.toThrow(/greater than unrefunded/);
    await expect(provider.createRefund(request("pi_unknown", 1, "k3"))).rejects.toThrow(/No such payment_intent/);
  });
});

describe("local provider saved cards (auto top-up)", () => {
  // A checkout that saves a card (the user opted in), completed with the given button.
  async function saved(outcome: "pay" | "pay_declining_card") {
    const provider = local();
    const { sessionId } = await provider.createCheckoutSession(checkoutRequest({ saveCard: true }));
    expect(provider.savesCard(sessionId)).toBe(true);
    const events = provider.complete(sessionId, outcome)?.events ?? [];
    const sent: ProviderEvent[] = [];
    provider.onEvent(async (event) => {
      sent.push(event);
    });
    return { provider, events, sent };
  }
  const charge = (paymentMethodId: string, idempotencyKey = "auto_topup:attempt-1") => ({
    paymentId: "pay-topup",
    userId: "user-1",
    customerId: "cus_local_user-1",
    paymentMethodId,
    amountMinor: 499,
    currency: "eur",
    description: "Auto top-up: 500 credits",
    idempotencyKey,
  });

  it("a checkout that saves no card sends no payment_intent.succeeded", async () => {
    const provider = local();
    const { sessionId } = await provider.createCheckoutSession(checkoutRequest());
    expect(provider.savesCard(sessionId)).toBe(false);
    expect(provider.complete(sessionId, "pay")?.events.map((event) => event.type)).toEqual(["checkout.completed"]);
  });

  it("Pay saves a card that pays off-session: succeeded, reported once per key, refundable", async () => {
    const { provider, events, sent } = await saved("pay");
    expect(events.map((event) => event.type)).toEqual(["checkout.completed", "payment_intent.succeeded"]);
    expect(events[1]).toMatchObject({
      paymentIntent: {
        paymentId: "pay-1",
        status: "succeeded",
        customerId: "cus_local_user-1",
        paymentMethodId: LOCAL_CARD,
        savedForOffSession: true,
      },
    });
    const intent = await provider.chargeOffSession(charge(LOCAL_CARD));
    expect(intent).toMatchObject({
      id: expect.stringMatching(/^pi_local_/),
      paymentId: "pay-topup",
      status: "succeeded",
      amountMinor: 499,
      currency: "eur",
      paymentMethodId: LOCAL_CARD,
      savedForOffSession: false,
      failureCode: null,
    });
    expect(sent).toEqual([
      { id: expect.stringMatching(/^evt_local_/), type: "payment_intent.succeeded", paymentIntent: intent },
    ]);
    // The same key: the same PaymentIntent, no second charge or event.
    expect(await provider.chargeOffSession(charge(LOCAL_CARD))).toEqual(intent);
    expect(sent).toHaveLength(1);
    expect(await provider.retrievePaymentIntent(intent.id)).toEqual(intent);
    const refund = await provider.createRefund({
      paymentIntentId: intent.id,
      amountMinor: 499,
      metadata: {},
      idempotencyKey: "r",
    });
    expect(refund.status).toBe("succeeded");
  });

  it("Pay, saving a card that declines: every off-session charge is declined, nothing is charged", async () => {
    const { provider, events, sent } = await saved("pay_declining_card");
    expect(events[1]).toMatchObject({
      type: "payment_intent.succeeded",
      paymentIntent: { paymentMethodId: LOCAL_DECLINING_CARD, savedForOffSession: true },
    });
    const intent = await provider.chargeOffSession(charge(LOCAL_DECLINING_CARD));
    expect(intent).toMatchObject({
      paymentId: "pay-topup",
      status: "requires_payment_method",
      failureCode: "card_declined",
      paymentMethodId: LOCAL_DECLINING_CARD,
    });
    expect(sent).toEqual([
      { id: expect.stringMatching(/^evt_local_/), type: "payment_intent.failed", paymentIntent: intent },
    ]);
    const again = await provider.chargeOffSession(charge(LOCAL_DECLINING_CARD, "auto_topup:attempt-2"));
    expect(again).toMatchObject({ status: "requires_payment_method", failureCode: "card_declined" });
    expect(again.id).not.toBe(intent.id);
    await expect(
      provider.createRefund({ paymentIntentId: intent.id, amountMinor: 1, metadata: {}, idempotencyKey: "r" }),
    ).rejects.toThrow(ProviderRefusedError);
    await expect(provider.retrievePaymentIntent("pi_unknown")).rejects.toThrow(/No such payment_intent/);
  });

  it("a detached card is refused off-session (that customer's only, twice is fine); saving it again attaches it", async () => {
    const { provider } = await saved("pay");
    const card = { paymentMethodId: LOCAL_CARD, customerId: "cus_local_user-1" };
    await provider.detachPaymentMethod(card);
    await provider.detachPaymentMethod(card);
    await expect(provider.chargeOffSession(charge(LOCAL_CARD))).rejects.toThrow(ProviderRefusedError);
    const other = { ...charge(LOCAL_CARD, "auto_topup:other"), customerId: "cus_local_user-2" };
    expect((await provider.chargeOffSession(other)).status).toBe("succeeded");
    const again = checkoutRequest({ saveCard: true, paymentId: "pay-2", idempotencyKey: "checkout:pay-2" });
    provider.complete((await provider.createCheckoutSession(again)).sessionId, "pay");
    expect((await provider.chargeOffSession(charge(LOCAL_CARD))).status).toBe("succeeded");
  });
});
