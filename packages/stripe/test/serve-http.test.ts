import { type CheckoutRequest, ProviderUnavailableError } from "@credits/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createStripeProvider } from "../src/index.ts";
import { type ServedStripeApi, serveStripeApiMock } from "./msw/serve-http.ts";

// The msw fake served over real HTTP (no interception in this file): what the fault harness's and
// the bench's server processes talk to. The real SDK must see the same Stripe as in process.

let served: ServedStripeApi;
beforeAll(async () => {
  served = await serveStripeApiMock();
});
afterEach(() => served.mock.reset());
afterAll(() => served.close());

const provider = (timeoutMs = 2_000) =>
  createStripeProvider({ secretKey: "sk_test_served", webhookSecret: "whsec_test", apiBase: served.base, timeoutMs });

const checkoutRequest: CheckoutRequest = {
  paymentId: "3c1e2a4b-5d6f-4a7b-8c9d-0e1f2a3b4c5d",
  userId: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
  productName: "500 credits",
  credits: 500,
  amountMinor: 499,
  currency: "eur",
  customerId: "cus_served",
  customerEmail: null,
  successUrl: "https://credits.example/checkout/success?session_id={CHECKOUT_SESSION_ID}",
  cancelUrl: "https://credits.example/checkout/cancel",
  idempotencyKey: "checkout:3c1e2a4b-5d6f-4a7b-8c9d-0e1f2a3b4c5d",
};

describe("the msw Stripe fake over HTTP", () => {
  it("creates, replays and retrieves a checkout session from the mock's own state", async () => {
    const stripe = provider();
    const created = await stripe.createCheckoutSession(checkoutRequest);
    const replayed = await stripe.createCheckoutSession(checkoutRequest);
    expect(replayed.sessionId).toBe(created.sessionId);
    expect(served.mock.sessions.has(created.sessionId)).toBe(true);
    served.mock.updateSession(created.sessionId, { status: "complete", payment_status: "paid" });
    const session = await stripe.retrieveCheckoutSession(created.sessionId);
    expect(session).toMatchObject({ paymentId: checkoutRequest.paymentId, status: "complete", paymentStatus: "paid" });
    const [request] = served.mock.requestsTo("POST", "/v1/checkout/sessions");
    expect(request?.idempotencyKey).toBe(checkoutRequest.idempotencyKey);
    expect(request?.params["metadata[paymentId]"]).toBe(checkoutRequest.paymentId);
  });

  it("answers a path it has no handler for with Stripe's 404, not an outage", async () => {
    const response = await fetch(`${served.base}/v1/prices`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { type: "invalid_request_error" } });
  });

  it("follows the mock's failure switch: a 500 and a hang are outages", async () => {
    served.mock.failWith("500");
    await expect(
      provider().createCustomer({ userId: "u", email: null, idempotencyKey: "customer:u" }),
    ).rejects.toBeInstanceOf(ProviderUnavailableError);
    served.mock.failWith("hang");
    await expect(provider(100).retrieveCheckoutSession("cs_test_x")).rejects.toBeInstanceOf(ProviderUnavailableError);
    expect(served.mock.requests.length).toBeGreaterThanOrEqual(2);
  });
});
