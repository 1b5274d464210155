import { randomBytes } from "node:crypto";
import { delay, HttpResponse, http } from "msw";
import { checkoutSession, randomStripeId, type StripeJson, stripeFixture } from "../fixtures/stripe-events.ts";
import { type CardOutcome, type IntentHook, intentAnswer, keyInUse, offSessionIntent } from "./intent-answers.ts";
import { listPage } from "./list-page.ts";
import { paymentMethodAnswers } from "./payment-methods.ts";
import { createRefundsMock } from "./refunds.ts";

// The one msw handlers file for Stripe's API: the subset our provider calls, answered from the
// stripe-mock fixtures. Every request is recorded (form params flattened as the SDK sends them,
// e.g. "metadata[paymentId]", plus the Idempotency-Key header) so tests can assert on the wire
// format. Use with `setupServer(...mock.handlers)` from "msw/node" and
// `server.listen({ onUnhandledFrame: "error" })`.

// A host that cannot reach Stripe even if interception were off.
export const STRIPE_TEST_API_BASE = "http://stripe.test";

export interface RecordedStripeRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  params: Record<string, string>;
  idempotencyKey: string | null;
}

// "500": every request answers a Stripe api_error; "hang": no request is ever answered.
export type StripeFailureMode = "500" | "hang" | null;

export type { CardOutcome, IntentHook };

export type StripeApiMock = ReturnType<typeof createStripeApiMock>;

const requestId = () => `req_${randomBytes(7).toString("hex")}`;

function stripeError(status: number, error: StripeJson) {
  return HttpResponse.json({ error }, { status, headers: { "Request-Id": requestId() } });
}

function ok(body: StripeJson, headers: Record<string, string> = {}) {
  return HttpResponse.json(body, { headers: { "Request-Id": requestId(), ...headers } });
}

const noSuch = (what: string, id: string, param: string) =>
  stripeError(404, {
    type: "invalid_request_error",
    code: "resource_missing",
    message: `No such ${what}: '${id}'`,
    param,
  });

export function createStripeApiMock(baseUrl: string = STRIPE_TEST_API_BASE) {
  const requests: RecordedStripeRequest[] = [];
  const customers = new Map<string, StripeJson>();
  const customerByKey = new Map<string, string>();
  const deletedCustomers = new Set<string>();
  const paymentMethods = paymentMethodAnswers();
  const sessions = new Map<string, StripeJson>();
  const sessionByKey = new Map<string, string>();
  // Charges by payment intent (added by tests for the purchases they pay); the refunds made of them.
  const charges = new Map<string, StripeJson>();
  const refunds = createRefundsMock({ charges, ok, stripeError, noSuch });
  // Off-session PaymentIntents by id and by key; what a saved card does when charged (by payment
  // method id; unlisted cards pay), and a hook run before a new PaymentIntent is answered.
  const intents = new Map<string, StripeJson>();
  const intentByKey = new Map<string, string>();
  // Keys of PaymentIntents still being answered (a concurrent create under the same key: 409).
  const intentKeysInProgress = new Set<string>();
  const cardOutcomes = new Map<string, CardOutcome>();
  let beforeIntentAnswer: IntentHook | null = null;
  let beforeCustomerAnswer: (() => Promise<void>) | null = null;
  let beforeSessionAnswer: (() => Promise<void>) | null = null;
  let listedSessions: StripeJson[] = [];
  let listedCharges: StripeJson[] = [];
  let failure: StripeFailureMode = null;

  async function record(request: Request): Promise<RecordedStripeRequest> {
    const url = new URL(request.url);
    const body = request.method === "GET" || request.method === "DELETE" ? "" : await request.text();
    const recorded = {
      method: request.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      params: Object.fromEntries(new URLSearchParams(body)),
      idempotencyKey: request.headers.get("idempotency-key"),
    };
    requests.push(recorded);
    return recorded;
  }

  // Records the request, then applies the failure switch before the real answer.
  const route =
    (answer: (recorded: RecordedStripeRequest, params: Record<string, string>) => Response | Promise<Response>) =>
    async ({
      request,
      params,
    }: {
      request: Request;
      params: Record<string, string | readonly string[] | undefined>;
    }) => {
      const recorded = await record(request);
      if (failure === "hang") await delay("infinite");
      if (failure === "500") return stripeError(500, { type: "api_error", message: "An unknown error occurred" });
      return answer(recorded, { id: String(params.id ?? "") });
    };

  function createCustomer({ params, idempotencyKey }: RecordedStripeRequest) {
    const replayed = idempotencyKey ? customerByKey.get(idempotencyKey) : undefined;
    const existing = replayed ? customers.get(replayed) : undefined;
    if (existing) return ok(existing, { "Idempotent-Replayed": "true" });
    const customer = stripeFixture("customer", {
      id: randomStripeId("cus"),
      email: params.email ?? null,
      metadata: { userId: params["metadata[userId]"] ?? "" },
      created: Math.floor(Date.now() / 1000),
    });
    customers.set(String(customer.id), customer);
    if (idempotencyKey) customerByKey.set(idempotencyKey, String(customer.id));
    return ok(customer);
  }

  function createSession({ params, idempotencyKey }: RecordedStripeRequest) {
    const replayed = idempotencyKey ? sessionByKey.get(idempotencyKey) : undefined;
    const existing = replayed ? sessions.get(replayed) : undefined;
    if (existing) return ok(existing, { "Idempotent-Replayed": "true" });
    const amount = Number(params["line_items[0][price_data][unit_amount]"]) * Number(params["line_items[0][quantity]"]);
    const id = `cs_test_${randomBytes(16).toString("hex")}`;
    const session = checkoutSession({
      id,
      amount_subtotal: amount,
      amount_total: amount,
      currency: params["line_items[0][price_data][currency]"] ?? null,
      client_reference_id: params.client_reference_id ?? null,
      customer: params.customer ?? null,
      customer_email: params.customer_email ?? null,
      customer_creation: params.customer_creation ?? null,
      metadata: Object.fromEntries(
        Object.entries(params)
          .filter(([key]) => key.startsWith("metadata["))
          .map(([key, value]) => [key.slice("metadata[".length, -1), value]),
      ),
      // Current API versions create the PaymentIntent only when the customer pays.
      payment_intent: null,
      payment_status: "unpaid",
      status: "open",
      success_url: params.success_url ?? null,
      cancel_url: params.cancel_url ?? null,
      url: `https://checkout.stripe.com/c/pay/${id}`,
      created: Math.floor(Date.now() / 1000),
    });
    sessions.set(id, session);
    if (idempotencyKey) sessionByKey.set(idempotencyKey, id);
    return ok(session);
  }

  // checkout.sessions.expire as Stripe answers it: only an open session can be expired.
  function expireSession(_: RecordedStripeRequest, { id = "" }: Record<string, string>) {
    const session = sessions.get(id);
    if (!session) return noSuch("checkout.session", id, "session");
    if (session.status !== "open") {
      return stripeError(400, {
        type: "invalid_request_error",
        message: `Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "${String(session.status)}".`,
      });
    }
    const expired = { ...session, status: "expired", url: null };
    sessions.set(id, expired);
    return ok(expired);
  }

  // paymentIntents.create with confirm and off_session, as Stripe answers it: the PaymentIntent,
  // or a 402 card error carrying it (status requires_payment_method, last_payment_error.code).
  async function createIntent({ params, idempotencyKey }: RecordedStripeRequest) {
    if (idempotencyKey && intentKeysInProgress.has(idempotencyKey)) return keyInUse();
    const replayed = intents.get(intentByKey.get(idempotencyKey ?? "") ?? "");
    if (replayed) return intentAnswer(replayed, { "Idempotent-Replayed": "true" });
    const intent = offSessionIntent(params, cardOutcomes.get(params.payment_method ?? "") ?? "succeeded");
    intents.set(String(intent.id), intent);
    if (idempotencyKey) intentByKey.set(idempotencyKey, String(intent.id));
    if (idempotencyKey) intentKeysInProgress.add(idempotencyKey);
    try {
      return (await beforeIntentAnswer?.(intent)) ?? intentAnswer(intent);
    } finally {
      if (idempotencyKey) intentKeysInProgress.delete(idempotencyKey);
    }
  }

  // paymentIntents.retrieve: one created through the API (an off-session charge) as it stands, or
  // one whose charge a test added, latest_charge expanded when asked (as the receipt lookup does).
  function retrievePaymentIntent({ query }: RecordedStripeRequest, { id = "" }: Record<string, string>) {
    const intent = intents.get(id);
    if (intent) return ok(intent);
    const charged = charges.get(id);
    if (!charged) return noSuch("payment_intent", id, "intent");
    const expanded = query["expand[0]"] === "latest_charge";
    return ok(
      stripeFixture("payment_intent", {
        id,
        amount: charged.amount,
        amount_received: charged.amount,
        currency: charged.currency,
        status: "succeeded",
        latest_charge: expanded ? charged : charged.id,
      }),
    );
  }
  const handlers = [
    http.post(`${baseUrl}/v1/payment_intents`, route(createIntent)),
    http.post(`${baseUrl}/v1/refunds`, route(refunds.create)),
    http.get(`${baseUrl}/v1/refunds`, route(refunds.list)),
    http.get(`${baseUrl}/v1/refunds/:id`, route(refunds.retrieve)),
    http.get(`${baseUrl}/v1/payment_intents/:id`, route(retrievePaymentIntent)),
    // paymentIntents.list: those created through the API (the off-session charges), as they stand.
    http.get(
      `${baseUrl}/v1/payment_intents`,
      route(({ query }) => ok(listPage([...intents.values()], query, "/v1/payment_intents"))),
    ),
    http.post(`${baseUrl}/v1/checkout/sessions/:id/expire`, route(expireSession)),
    http.post(
      `${baseUrl}/v1/customers`,
      route(async (recorded) => {
        await beforeCustomerAnswer?.();
        return createCustomer(recorded);
      }),
    ),
    http.post(`${baseUrl}/v1/payment_methods/:id/detach`, route(paymentMethods.detach)),
    http.delete(
      `${baseUrl}/v1/customers/:id`,
      route((_, { id = "" }) => {
        if (deletedCustomers.has(id) || !(customers.has(id) || id.startsWith("cus_"))) {
          return noSuch("customer", id, "id");
        }
        deletedCustomers.add(id);
        customers.delete(id);
        return ok(stripeFixture("deleted_customer", { id }));
      }),
    ),
    http.post(
      `${baseUrl}/v1/checkout/sessions`,
      route(async (recorded) => {
        await beforeSessionAnswer?.();
        return createSession(recorded);
      }),
    ),
    http.get(
      `${baseUrl}/v1/checkout/sessions`,
      route(({ query }) => ok(listPage(listedSessions, query, "/v1/checkout/sessions"))),
    ),
    http.get(
      `${baseUrl}/v1/checkout/sessions/:id`,
      route((_, { id = "" }) => {
        const session = sessions.get(id) ?? listedSessions.find((candidate) => candidate.id === id);
        return session ? ok(session) : noSuch("checkout.session", id, "session");
      }),
    ),
    http.get(
      `${baseUrl}/v1/charges`,
      route(({ query }) => ok(listPage(listedCharges, query, "/v1/charges"))),
    ),
  ];

  return {
    baseUrl,
    handlers,
    requests,
    sessions,
    // Requests to one endpoint, e.g. requestsTo("POST", "/v1/checkout/sessions").
    requestsTo: (method: string, path: string) =>
      requests.filter((request) => request.method === method && request.path === path),
    // Objects served by the list endpoints (and, for sessions, by retrieve).
    seedCheckoutSessions(objects: StripeJson[]) {
      listedSessions = [...listedSessions, ...objects];
    },
    // A paid charge refunds.create can refund (by its payment_intent); the refunds change it.
    addCharge(object: StripeJson) {
      charges.set(String(object.payment_intent), object);
    },
    chargeOf: (paymentIntent: string) => charges.get(paymentIntent),
    ...refunds.controls,
    seedCharges(objects: StripeJson[]) {
      listedCharges = [...listedCharges, ...objects];
    },
    // Stored sessions can be edited to simulate a payment, e.g. { status: "complete", payment_status: "paid" }.
    updateSession(id: string, fields: StripeJson) {
      const session = sessions.get(id);
      if (!session) throw new Error(`unknown session ${id}`);
      sessions.set(id, { ...session, ...fields });
    },
    intents,
    // Saved cards detached (by the platform, or by a test as if in the dashboard).
    detachedPaymentMethods: paymentMethods.detached,
    // What charging this saved card does from now on.
    cardOutcome(paymentMethodId: string, outcome: CardOutcome) {
      cardOutcomes.set(paymentMethodId, outcome);
    },
    // Runs before a new PaymentIntent is answered: a test delivers its webhook there.
    // Returning a response answers that instead (the PaymentIntent exists all the same).
    beforeIntentAnswer(hook: IntentHook | null) {
      beforeIntentAnswer = hook;
    },
    // Runs before a new customer is answered: a test erases its user there.
    beforeCustomerAnswer(hook: (() => Promise<void>) | null) {
      beforeCustomerAnswer = hook;
    },
    // Runs before a new Checkout Session is answered (it is made all the same): a test erases its user there.
    beforeSessionAnswer(hook: (() => Promise<void>) | null) {
      beforeSessionAnswer = hook;
    },
    failWith(mode: StripeFailureMode) {
      failure = mode;
    },
    reset() {
      requests.length = 0;
      for (const map of [customers, customerByKey, sessions, sessionByKey, charges]) map.clear();
      for (const map of [intents, intentByKey, cardOutcomes, paymentMethods.detached]) map.clear();
      deletedCustomers.clear();
      [listedSessions, listedCharges, failure, beforeIntentAnswer, beforeCustomerAnswer] = [[], [], null, null, null];
      beforeSessionAnswer = null;
      refunds.reset();
    },
  };
}
