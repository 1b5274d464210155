import { type CheckoutRequest, ProviderUnavailableError } from "@credits/core";
import { HttpResponse, http } from "msw";
import { afterEach, describe, expect, it } from "vitest";
import { createStripeProvider } from "../src/index.ts";
import { charge, checkoutSession, fixtureIds, stripeFixture } from "./fixtures/stripe-events.ts";
import { listenMsw } from "./msw/servers.ts";
import { createStripeApiMock } from "./msw/stripe-handlers.ts";

// The real Stripe SDK, talking HTTP to msw handlers built from stripe-mock's fixtures.

const SECRET_KEY = "sk_test_51SecretKeyThatMustNeverAppearInErrors";
const mock = createStripeApiMock();
const { server } = listenMsw(mock.handlers, "error");

afterEach(() => {
  mock.reset();
  server.resetHandlers();
});

const provider = (timeoutMs = 2_000) =>
  createStripeProvider({ secretKey: SECRET_KEY, webhookSecret: "whsec_test", apiBase: mock.baseUrl, timeoutMs });

const checkoutRequest = (overrides: Partial<CheckoutRequest> = {}): CheckoutRequest => ({
  paymentId: "7b0c9f8e-2d44-4c1b-9a55-0e2b1f6a7c31",
  userId: "0f4a6d2e-93b1-4f7e-8c2a-5d9e1b3c7a40",
  productName: "500 credits",
  credits: 500,
  amountMinor: 499,
  currency: "eur",
  customerId: null,
  customerEmail: null,
  successUrl: "https://credits.example/checkout/success?session_id={CHECKOUT_SESSION_ID}",
  cancelUrl: "https://credits.example/checkout/cancel",
  idempotencyKey: "checkout:7b0c9f8e-2d44-4c1b-9a55-0e2b1f6a7c31",
  ...overrides,
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

async function failure(work: Promise<unknown>): Promise<Error> {
  const error = await work.then(
    () => null,
    (caught: unknown) => caught,
  );
  if (!(error instanceof Error)) throw new Error("expected the call to fail");
  return error;
}

describe("stripe provider: customers", () => {
  it("creates a customer with the idempotency key and the user id in metadata", async () => {
    const stripe = provider();
    const id = await stripe.createCustomer({
      userId: "user-1",
      email: "ada@example.com",
      idempotencyKey: "customer:user-1",
    });
    const again = await stripe.createCustomer({
      userId: "user-1",
      email: "ada@example.com",
      idempotencyKey: "customer:user-1",
    });

    expect(id).toMatch(/^cus_/);
    expect(again).toBe(id);
    const [first] = mock.requestsTo("POST", "/v1/customers");
    expect(first?.idempotencyKey).toBe("customer:user-1");
    expect(first?.params).toEqual({ email: "ada@example.com", "metadata[userId]": "user-1" });
  });

  it("deletes a customer, and a customer already gone counts as deleted", async () => {
    const stripe = provider();
    await stripe.deleteCustomer(fixtureIds.customer);
    await stripe.deleteCustomer(fixtureIds.customer);
    expect(mock.requestsTo("DELETE", `/v1/customers/${fixtureIds.customer}`)).toHaveLength(2);
  });
});

describe("stripe provider: checkout sessions", () => {
  it("sends our payment id, metadata, one price_data line item and the idempotency key", async () => {
    const request = checkoutRequest({ customerId: "cus_existing", customerEmail: "ada@example.com" });
    const { sessionId, url } = await provider().createCheckoutSession(request);

    expect(sessionId).toMatch(/^cs_test_/);
    expect(url).toBe(`https://checkout.stripe.com/c/pay/${sessionId}`);
    const [sent] = mock.requestsTo("POST", "/v1/checkout/sessions");
    expect(sent?.idempotencyKey).toBe(request.idempotencyKey);
    expect(sent?.params).toEqual({
      mode: "payment",
      "line_items[0][price_data][currency]": "eur",
      "line_items[0][price_data][unit_amount]": "499",
      "line_items[0][price_data][product_data][name]": "500 credits",
      "line_items[0][quantity]": "1",
      client_reference_id: request.paymentId,
      "metadata[paymentId]": request.paymentId,
      "metadata[userId]": request.userId,
      "payment_intent_data[metadata][paymentId]": request.paymentId,
      "payment_intent_data[metadata][userId]": request.userId,
      // An existing customer is reused; Stripe refuses customer_email alongside customer.
      customer: "cus_existing",
      success_url: request.successUrl,
      cancel_url: request.cancelUrl,
    });
  });

  it("asks Stripe to create a customer, prefilled with the email, when the user has none", async () => {
    await provider().createCheckoutSession(checkoutRequest({ customerEmail: "ada@example.com" }));
    await provider().createCheckoutSession(checkoutRequest({ idempotencyKey: "checkout:other" }));

    const [withEmail, withoutEmail] = mock.requestsTo("POST", "/v1/checkout/sessions");
    expect(withEmail?.params).toMatchObject({ customer_creation: "always", customer_email: "ada@example.com" });
    expect(withEmail?.params).not.toHaveProperty("customer");
    expect(withoutEmail?.params).toMatchObject({ customer_creation: "always" });
    expect(withoutEmail?.params).not.toHaveProperty("customer_email");
  });

  it("returns the same session when a create is retried with the same idempotency key", async () => {
    const first = await provider().createCheckoutSession(checkoutRequest());
    const retried = await provider().createCheckoutSession(checkoutRequest());
    expect(retried).toEqual(first);
    expect(mock.requestsTo("POST", "/v1/checkout/sessions").map((r) => r.idempotencyKey)).toEqual([
      "checkout:7b0c9f8e-2d44-4c1b-9a55-0e2b1f6a7c31",
      "checkout:7b0c9f8e-2d44-4c1b-9a55-0e2b1f6a7c31",
    ]);
  });

  it("maps a retrieved session to our shape, with expanded references and decimal fields dropped", async () => {
    const stripe = provider();
    const request = checkoutRequest();
    const { sessionId } = await stripe.createCheckoutSession(request);
    expect(await stripe.retrieveCheckoutSession(sessionId)).toEqual({
      id: sessionId,
      paymentId: request.paymentId,
      status: "open",
      paymentStatus: "unpaid",
      amountTotalMinor: 499,
      amountSubtotalMinor: 499,
      amountDiscountMinor: 0,
      amountTaxMinor: 0,
      currency: "eur",
      paymentIntentId: null,
      customerId: null,
      url: `https://checkout.stripe.com/c/pay/${sessionId}`,
    });

    mock.updateSession(sessionId, {
      status: "complete",
      payment_status: "paid",
      url: null,
      payment_intent: stripeFixture("payment_intent"),
      customer: stripeFixture("customer"),
    });
    const paid = await stripe.retrieveCheckoutSession(sessionId);
    expect(paid).toMatchObject({ status: "complete", paymentStatus: "paid", url: null });
    expect(paid.paymentIntentId).toBe(fixtureIds.paymentIntent);
    expect(paid.customerId).toBe(fixtureIds.customer);
    // The SDK turns the fixture's currency_conversion.fx_rate into a BigInt-backed Decimal; the
    // mapped session holds only plain JSON values.
    expect(Object.values(paid).every((v) => v === null || ["string", "number"].includes(typeof v))).toBe(true);
  });

  it("falls back to metadata.paymentId when client_reference_id is missing", async () => {
    mock.seedCheckoutSessions([checkoutSession({ id: "cs_test_meta", metadata: { paymentId: "pay-9" } })]);
    expect((await provider().retrieveCheckoutSession("cs_test_meta")).paymentId).toBe("pay-9");
  });

  it("passes Stripe's message through for a 4xx, not as an outage", async () => {
    const error = await failure(provider().retrieveCheckoutSession("cs_test_missing"));
    expect(error).not.toBeInstanceOf(ProviderUnavailableError);
    expect(error.message).toBe("No such checkout.session: 'cs_test_missing'");
  });
});

describe("stripe provider: listing for reconciliation", () => {
  const window = { createdFrom: new Date("2026-11-01T00:00:00Z"), createdTo: new Date("2026-11-01T23:59:59Z") };
  const from = Math.floor(window.createdFrom.getTime() / 1000);
  const to = Math.floor(window.createdTo.getTime() / 1000);

  it("walks every page of checkout sessions in the window, 100 at a time", async () => {
    const inside = Array.from({ length: 250 }, (_, i) =>
      checkoutSession({ id: `cs_test_${i}`, created: from + i * 60, client_reference_id: `pay-${i}` }),
    );
    const outside = [
      checkoutSession({ id: "cs_test_before", created: from - 1 }),
      checkoutSession({ id: "cs_test_after", created: to + 1 }),
    ];
    mock.seedCheckoutSessions([...inside, ...outside]);

    const listed = await collect(provider().listCheckoutSessions(window));

    expect(listed).toHaveLength(250);
    expect(new Set(listed.map((s) => s.id))).toEqual(new Set(inside.map((s) => s.id)));
    const pages = mock.requestsTo("GET", "/v1/checkout/sessions");
    expect(pages).toHaveLength(3);
    for (const page of pages) {
      expect(page.query).toMatchObject({ limit: "100", "created[gte]": String(from), "created[lte]": String(to) });
    }
    expect(pages[0]?.query).not.toHaveProperty("starting_after");
    expect(pages[1]?.query.starting_after).toBe(listed[99]?.id);
  });

  it("walks every page of charges, with the cumulative refunded amount", async () => {
    mock.seedCharges(
      Array.from({ length: 120 }, (_, i) =>
        charge({ id: `ch_test_${i}`, amount: 1000, amount_refunded: i % 2 ? 250 : 0, created: from + i }),
      ),
    );
    const listed = await collect(provider().listCharges(window));
    expect(listed).toHaveLength(120);
    expect(listed.find((c) => c.id === "ch_test_1")).toEqual({
      id: "ch_test_1",
      paymentIntentId: fixtureIds.paymentIntent,
      amountMinor: 1000,
      amountRefundedMinor: 250,
      currency: "usd",
      receiptUrl: expect.stringMatching(/^https:\/\//),
    });
    expect(mock.requestsTo("GET", "/v1/charges")).toHaveLength(2);
  });

  it("lists the off-session PaymentIntents (ours carry kind=auto_topup), not Checkout's", async () => {
    const stripe = provider();
    const offSession = (n: number) => ({
      paymentId: `pay-${n}`,
      userId: "user-1",
      customerId: "cus_1",
      paymentMethodId: "pm_1",
      amountMinor: 500,
      currency: "usd",
      description: "Auto top-up: 100 credits",
      idempotencyKey: `auto_topup:${n}`,
    });
    const charged = [await stripe.chargeOffSession(offSession(1)), await stripe.chargeOffSession(offSession(2))];
    const checkoutIntent = stripeFixture("payment_intent", {
      id: "pi_checkout",
      status: "succeeded",
      metadata: { paymentId: "pay-checkout" },
      created: Math.floor(Date.now() / 1000),
    });
    mock.intents.set("pi_checkout", checkoutIntent);
    const now = Date.now();
    const around = { createdFrom: new Date(now - 60_000), createdTo: new Date(now + 60_000) };
    const listed = await collect(stripe.listOffSessionPaymentIntents(around));
    expect(listed.map((intent) => intent.id).sort()).toEqual(charged.map((intent) => intent.id).sort());
    expect(listed.find((intent) => intent.paymentId === "pay-1")).toMatchObject({
      status: "succeeded",
      amountMinor: 500,
    });
    expect(mock.requestsTo("GET", "/v1/payment_intents")[0]?.query).toMatchObject({ limit: "100" });
  });

  it("requests nothing until iterated, and can be iterated again", async () => {
    const stripe = provider();
    const sessions = stripe.listCheckoutSessions(window);
    expect(mock.requests).toHaveLength(0);
    await collect(sessions);
    await collect(sessions);
    expect(mock.requestsTo("GET", "/v1/checkout/sessions")).toHaveLength(2);
  });
});

describe("stripe provider: outages are bounded and typed", () => {
  it("turns a 500 into ProviderUnavailableError after two retries", async () => {
    mock.failWith("500");
    const started = performance.now();
    const error = await failure(provider().createCheckoutSession(checkoutRequest()));
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(error.message).not.toContain(SECRET_KEY);
    expect(mock.requestsTo("POST", "/v1/checkout/sessions")).toHaveLength(3);
    // Every retry reuses our idempotency key, so a 500 that did create a session cannot make two.
    expect(new Set(mock.requests.map((r) => r.idempotencyKey))).toEqual(new Set([checkoutRequest().idempotencyKey]));
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it("turns a hung request into ProviderUnavailableError within about three timeouts", async () => {
    mock.failWith("hang");
    const started = performance.now();
    const error = await failure(provider(150).retrieveCheckoutSession("cs_test_any"));
    const elapsedMs = performance.now() - started;
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(error.message).toContain("timed out");
    expect(mock.requests).toHaveLength(3);
    expect(elapsedMs).toBeGreaterThanOrEqual(3 * 150);
    expect(elapsedMs).toBeLessThan(5_000);
  });

  it("turns a failure while paging into ProviderUnavailableError", async () => {
    mock.failWith("500");
    const window = { createdFrom: new Date(0), createdTo: new Date() };
    const error = await failure(collect(provider().listCharges(window)));
    expect(error).toBeInstanceOf(ProviderUnavailableError);
  });

  it("turns a refused connection into ProviderUnavailableError", async () => {
    server.use(http.post(`${mock.baseUrl}/v1/customers`, () => HttpResponse.error()));
    const error = await failure(provider().createCustomer({ userId: "u", email: null, idempotencyKey: "k" }));
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(error.message).toBe("stripe customer create failed: could not connect");
  });

  it("reports a rejected API key without echoing Stripe's message", async () => {
    server.use(
      http.post(`${mock.baseUrl}/v1/customers`, () =>
        HttpResponse.json(
          {
            error: {
              type: "invalid_request_error",
              message: `Invalid API Key provided: ${SECRET_KEY.slice(0, 12)}***`,
            },
          },
          { status: 401 },
        ),
      ),
    );
    const error = await failure(provider().createCustomer({ userId: "u", email: null, idempotencyKey: "k" }));
    expect(error).not.toBeInstanceOf(ProviderUnavailableError);
    expect(error.message).toMatch(/refused the API key/);
    expect(error.message).not.toContain("sk_test");
  });
});

describe("stripe provider: configuration", () => {
  it("accepts an origin as apiBase and refuses anything with a path or credentials", () => {
    const make = (apiBase: string) => () => createStripeProvider({ secretKey: "sk", webhookSecret: "wh", apiBase });
    expect(make("http://127.0.0.1:12111")).not.toThrow();
    expect(make("https://api.stripe.com")).not.toThrow();
    expect(make("https://api.stripe.com/v1")).toThrow(/origin/);
    expect(make("https://user:pass@api.stripe.com")).toThrow(/origin/);
    expect(make("ftp://api.stripe.com")).toThrow(/http or https/);
    expect(make("not a url")).toThrow(/not a valid URL/);
  });

  it("refuses to start without keys or with a nonsensical timeout", () => {
    expect(() => createStripeProvider({ secretKey: "", webhookSecret: "wh" })).toThrow(/secret key/);
    expect(() => createStripeProvider({ secretKey: "sk", webhookSecret: "" })).toThrow(/webhook secret/);
    expect(() => createStripeProvider({ secretKey: "sk", webhookSecret: "wh", timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});
