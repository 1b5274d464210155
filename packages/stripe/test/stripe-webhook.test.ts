import { WebhookPayloadError, WebhookSignatureError } from "@credits/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createStripeProvider } from "../src/index.ts";
import {
  type CheckoutSessionEventType,
  chargeRefundedEvent,
  checkoutSessionEvent,
  disputeEvent,
  fixtureIds,
  type StripeJson,
  signedWebhook,
  stripeEvent,
  stripeFixture,
} from "./fixtures/stripe-events.ts";

// parseWebhook with the real SDK's constructEvent, on events built from stripe-mock fixtures and
// signed like Stripe signs them. No network: verification is local.

const SECRET = "whsec_test_3f9a1c0d5b7e2a4c6e8f0a1b3c5d7e9f";
const NOW_S = 1_795_000_000;
const stripe = createStripeProvider({
  secretKey: "sk_test_unused",
  webhookSecret: SECRET,
  // Pinned, so the tolerance boundaries below are exact.
  clock: { now: () => new Date(NOW_S * 1000) },
});

const parse = (event: StripeJson | string, timestamp = NOW_S, secret = SECRET) => {
  const { body, signature } = signedWebhook(event, secret, timestamp);
  return stripe.parseWebhook(body, signature);
};

function withoutObjectField(event: StripeJson, field: string): StripeJson {
  const data = event.data as { object: StripeJson };
  const { [field]: _, ...object } = data.object;
  return { ...event, data: { object } };
}

function rejection(work: () => unknown): Error {
  try {
    work();
  } catch (error) {
    if (error instanceof Error) return error;
  }
  throw new Error("expected parseWebhook to throw");
}

describe("parseWebhook: mapping", () => {
  const sessionCases: [CheckoutSessionEventType, string, string, string][] = [
    ["checkout.session.completed", "checkout.completed", "complete", "paid"],
    ["checkout.session.async_payment_succeeded", "checkout.async_succeeded", "complete", "paid"],
    ["checkout.session.async_payment_failed", "checkout.async_failed", "complete", "unpaid"],
  ];

  it.each(sessionCases)("maps %s to %s", (stripeType, type, status, paymentStatus) => {
    const event = checkoutSessionEvent(
      stripeType,
      { client_reference_id: "pay-1", amount_total: 1500, currency: "usd", payment_intent: "pi_test_1" },
      { id: "evt_session" },
    );
    expect(parse(event)).toEqual({
      id: "evt_session",
      type,
      session: {
        id: fixtureIds.checkoutSession,
        paymentId: "pay-1",
        status,
        paymentStatus,
        amountTotalMinor: 1500,
        amountSubtotalMinor: 1500,
        amountDiscountMinor: 0,
        amountTaxMinor: 0,
        currency: "usd",
        paymentIntentId: "pi_test_1",
        customerId: fixtureIds.customer,
        url: null,
      },
    });
  });

  it.each(["refund.failed", "refund.updated", "charge.refund.updated"])("maps %s to refund.updated", (stripeType) => {
    const refund = stripeFixture("refund", {
      status: "failed",
      failure_reason: "lost_or_stolen_card",
      payment_intent: "pi_test_9",
      metadata: { refundId: "our-refund-1", paymentId: "pay-9" },
    });
    expect(parse(stripeEvent(stripeType, refund, { id: "evt_refund" }))).toEqual({
      id: "evt_refund",
      type: "refund.updated",
      refund: {
        id: "re_1Pgc72B7WZ01zgkWqPvrRrPE",
        status: "failed",
        amountMinor: 100,
        paymentIntentId: "pi_test_9",
        chargeId: "ch_1PgafuB7WZ01zgkWXYmPNZs8",
        refundRequestId: "our-refund-1",
        failureReason: "lost_or_stolen_card",
        charge: null,
      },
    });
  });

  it("maps checkout.session.expired to checkout.expired", () => {
    const event = checkoutSessionEvent(
      "checkout.session.expired",
      { client_reference_id: "pay-2" },
      { id: "evt_expired" },
    );
    expect(parse(event)).toMatchObject({
      id: "evt_expired",
      type: "checkout.expired",
      session: {
        paymentId: "pay-2",
        status: "expired",
        paymentStatus: "unpaid",
        paymentIntentId: null,
        customerId: null,
      },
    });
  });

  it("reads the session's subtotal, discount and tax (total_details), null when Stripe gives none", () => {
    const discounted = checkoutSessionEvent("checkout.session.completed", {
      amount_subtotal: 2000,
      amount_total: 1680,
      total_details: { amount_discount: 500, amount_shipping: 0, amount_tax: 180 },
    });
    expect(parse(discounted)).toMatchObject({
      session: { amountTotalMinor: 1680, amountSubtotalMinor: 2000, amountDiscountMinor: 500, amountTaxMinor: 180 },
    });
    const bare = checkoutSessionEvent("checkout.session.completed", { amount_subtotal: null, total_details: null });
    expect(parse(bare)).toMatchObject({
      session: { amountSubtotalMinor: null, amountDiscountMinor: null, amountTaxMinor: null },
    });
    const fractional = checkoutSessionEvent("checkout.session.completed", {
      total_details: { amount_discount: 1.5, amount_tax: 0 },
    });
    expect(() => parse(fractional)).toThrow();
  });

  it("reads ids from expanded payment_intent and customer objects", () => {
    const event = checkoutSessionEvent("checkout.session.completed", {
      payment_intent: stripeFixture("payment_intent"),
      customer: stripeFixture("customer"),
    });
    expect(parse(event)).toMatchObject({
      session: { paymentIntentId: fixtureIds.paymentIntent, customerId: fixtureIds.customer },
    });
  });

  it("maps charge.refunded with the cumulative refunded amount", () => {
    const event = chargeRefundedEvent({ amount: 2000, amount_refunded: 500 }, { id: "evt_refund" });
    expect(parse(event)).toEqual({
      id: "evt_refund",
      type: "charge.refunded",
      charge: {
        id: fixtureIds.charge,
        paymentIntentId: fixtureIds.paymentIntent,
        amountMinor: 2000,
        amountRefundedMinor: 500,
        currency: "usd",
        // The fixture charge's hosted receipt (an https URL is kept).
        receiptUrl: expect.stringMatching(/^https:\/\//),
      },
    });
  });

  it("maps charge.dispute.created with no outcome yet", () => {
    expect(parse(disputeEvent("charge.dispute.created", { amount: 1000 }, { id: "evt_dispute" }))).toEqual({
      id: "evt_dispute",
      type: "dispute.created",
      dispute: {
        id: String(stripeFixture("dispute").id),
        chargeId: fixtureIds.charge,
        paymentIntentId: fixtureIds.paymentIntent,
        amountMinor: 1000,
        status: "needs_response",
        outcome: null,
      },
    });
  });

  it.each([
    ["won", "won"],
    ["lost", "lost"],
    ["warning_closed", null],
  ])("maps charge.dispute.closed with status %s to outcome %s", (status, outcome) => {
    const event = disputeEvent("charge.dispute.closed", { status, charge: stripeFixture("charge") });
    expect(parse(event)).toMatchObject({
      type: "dispute.closed",
      dispute: { status, outcome, chargeId: fixtureIds.charge },
    });
  });

  it("acknowledges any other event type as ignored, whatever its object", () => {
    expect(parse(stripeEvent("customer.created", stripeFixture("customer"), { id: "evt_other" }))).toEqual({
      id: "evt_other",
      type: "ignored",
      providerType: "customer.created",
    });
    // stripe-mock's own event fixture, untouched: a plan.created.
    expect(parse(stripeFixture("event", { created: NOW_S }))).toMatchObject({
      type: "ignored",
      providerType: "plan.created",
    });
  });
});

describe("parseWebhook: refusals", () => {
  const event = checkoutSessionEvent("checkout.session.completed", { client_reference_id: "pay-1" });
  const signed = signedWebhook(event, SECRET, NOW_S);

  it("accepts timestamps up to 300 s away in either direction", () => {
    expect(parse(event, NOW_S - 300).type).toBe("checkout.completed");
    expect(parse(event, NOW_S + 300).type).toBe("checkout.completed");
  });

  it.each([
    ["a missing header", () => stripe.parseWebhook(signed.body, null)],
    ["an empty header", () => stripe.parseWebhook(signed.body, "")],
    ["a forged signature", () => stripe.parseWebhook(signed.body, `t=${NOW_S},v1=${"0".repeat(64)}`)],
    ["another secret", () => parse(event, NOW_S, "whsec_someone_else")],
    ["a tampered body", () => stripe.parseWebhook(signed.body.replace('"pay-1"', '"pay-2"'), signed.signature)],
    ["a re-serialised body", () => stripe.parseWebhook(JSON.stringify(JSON.parse(signed.body)), signed.signature)],
    ["a timestamp 301 s old", () => parse(event, NOW_S - 301)],
    ["a timestamp 301 s in the future", () => parse(event, NOW_S + 301)],
    ["two timestamps", () => stripe.parseWebhook(signed.body, `t=${NOW_S - 1000},${signed.signature}`)],
    ["an oversized header", () => stripe.parseWebhook(signed.body, `${signed.signature},${"v0=x,".repeat(500)}`)],
  ])("refuses %s with WebhookSignatureError", (_, work) => {
    const error = rejection(work);
    expect(error).toBeInstanceOf(WebhookSignatureError);
    expect(error).not.toBeInstanceOf(WebhookPayloadError);
    expect(error.message).not.toContain(SECRET);
  });

  it.each([
    ["a body that is not JSON", "not json"],
    ["a JSON array", "[]"],
    ["an event without an id", JSON.stringify({ object: "event", type: "charge.refunded" })],
    [
      "a v2 thin event",
      JSON.stringify({ object: "v2.core.event", id: "evt_thin", type: "v1.billing.meter.error_report_triggered" }),
    ],
    ["a refund event whose charge has no amount", withoutObjectField(chargeRefundedEvent(), "amount")],
    [
      "a completed session with a fractional amount",
      checkoutSessionEvent("checkout.session.completed", { amount_total: 10.5 }),
    ],
    ["a dispute event carrying a charge", stripeEvent("charge.dispute.created", stripeFixture("charge"))],
  ])("refuses a verified but unusable body (%s) with WebhookPayloadError", (_, body) => {
    const error = rejection(() => parse(body));
    expect(error).toBeInstanceOf(WebhookPayloadError);
    expect(error).not.toBeInstanceOf(WebhookSignatureError);
  });
});

describe("parseWebhook: property", () => {
  const original = signedWebhook(
    chargeRefundedEvent({ amount: 1000, amount_refunded: 250 }, { id: "evt_property" }),
    SECRET,
    NOW_S,
  );
  const expected = stripe.parseWebhook(original.body, original.signature);

  type Mutation =
    | { kind: "splice"; target: "body" | "header"; at: number; remove: number; insert: string }
    | { kind: "header"; header: string }
    | { kind: "retime"; timestamp: number }
    | { kind: "reformat"; indent: number };

  // Splice: remove `remove` characters at `at` and insert `insert` (any code units, including
  // lone surrogates and control characters).
  const splice = fc.record({
    kind: fc.constant("splice" as const),
    target: fc.constantFrom("body" as const, "header" as const),
    at: fc.nat(),
    remove: fc.nat({ max: 12 }),
    insert: fc.string({ unit: "binary", maxLength: 6 }),
  });
  const replaceHeader = fc.record({ kind: fc.constant("header" as const), header: fc.string({ maxLength: 200 }) });
  const retime = fc.record({
    kind: fc.constant("retime" as const),
    timestamp: fc.integer({ min: 0, max: 4_000_000_000 }),
  });
  const reformat = fc.record({ kind: fc.constant("reformat" as const), indent: fc.integer({ min: 0, max: 4 }) });

  function mutate(mutation: Mutation) {
    switch (mutation.kind) {
      case "splice": {
        const source = mutation.target === "body" ? original.body : original.signature;
        const at = mutation.at % (source.length + 1);
        const changed = source.slice(0, at) + mutation.insert + source.slice(at + mutation.remove);
        return mutation.target === "body"
          ? { body: changed, header: original.signature }
          : { body: original.body, header: changed };
      }
      case "header":
        return { body: original.body, header: mutation.header };
      case "retime":
        return { body: original.body, header: original.signature.replace(/^t=\d+/, `t=${mutation.timestamp}`) };
      case "reformat":
        return { body: JSON.stringify(JSON.parse(original.body), null, mutation.indent), header: original.signature };
    }
  }

  it("never throws anything but WebhookSignatureError, and never accepts a changed body", () => {
    fc.assert(
      fc.property(fc.oneof(splice, splice, replaceHeader, retime, reformat), (mutation) => {
        const { body, header } = mutate(mutation);
        fc.pre(body !== original.body || header !== original.signature);
        let event: unknown;
        try {
          event = stripe.parseWebhook(body, header);
        } catch (error) {
          expect(error).toBeInstanceOf(WebhookSignatureError);
          return;
        }
        // Only a header change can still verify (say, an extra element after the signature),
        // and then it must be the very same event.
        expect(body).toBe(original.body);
        expect(event).toEqual(expected);
      }),
      { numRuns: 1_000 },
    );
  });
});
