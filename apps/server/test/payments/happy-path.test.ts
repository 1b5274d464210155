// Buying credits end to end, through real HTTP: checkout (Stripe's API answered by msw), the
// signed webhook that credits, the success page, delayed payment methods, expiry, and the local
// provider a fresh machine runs on.
import { describe, expect, it } from "vitest";
import {
  balanceOf,
  call,
  db,
  deliver,
  ledgerOf,
  pack,
  paymentRow,
  sessionEvent,
  sessionIdOf,
  signUp,
  startStripeMock,
  startTestServer,
  stripeEnv,
  type TestUser,
  transitionsOf,
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
// Same database, no Stripe key: the local test-mode provider and its checkout page.
const local = await startTestServer();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

async function checkout(user: TestUser, packageId: string, base = server.url) {
  const reply = await call(base, "POST", "/api/v1/checkout", { cookie: user.cookie, body: { packageId } });
  expect(reply.status, JSON.stringify(reply.body)).toBe(201);
  expect(reply.body).toEqual({ paymentId: expect.stringMatching(UUID), checkoutUrl: expect.any(String) });
  return reply.body as { paymentId: string; checkoutUrl: string };
}

const sessionRequestFor = (paymentId: string) => {
  const found = mock
    .requestsTo("POST", "/v1/checkout/sessions")
    .filter((r) => r.params.client_reference_id === paymentId);
  expect(found).toHaveLength(1);
  return found[0] as NonNullable<(typeof found)[number]>;
};

const customerRequestsFor = (userId: string) =>
  mock.requestsTo("POST", "/v1/customers").filter((r) => r.params["metadata[userId]"] === userId);

async function getPayment(user: TestUser, paymentId: string, base = server.url) {
  const reply = await call(base, "GET", `/api/v1/payments/${paymentId}`, { cookie: user.cookie });
  expect(reply.status).toBe(200);
  return reply.body;
}

describe("purchase through Stripe Checkout", () => {
  it("POST /checkout creates our payment, then a Checkout Session carrying its id; the customer is made once", async () => {
    const standard = await pack("standard");
    const user = await signUp(server.url);
    const first = await checkout(user, standard.id);

    const row = await paymentRow(first.paymentId);
    expect(row).toMatchObject({
      userId: user.id,
      packageId: standard.id,
      credits: standard.credits,
      amountMinor: standard.priceMinor,
      currency: standard.currency,
      status: "created",
      provider: "stripe",
      creditedAt: null,
    });

    const customers = customerRequestsFor(user.id);
    expect(customers).toHaveLength(1);
    expect(customers[0]?.idempotencyKey).toBe(`customer:${user.id}`);
    expect(customers[0]?.params).toEqual({ email: user.email, "metadata[userId]": user.id });
    const customerId = (await balanceAndCustomer(user.id)).customerId;
    expect(customerId).toMatch(/^cus_test_/);

    const request = sessionRequestFor(first.paymentId);
    expect(request.idempotencyKey).toBe(`checkout:${first.paymentId}`);
    expect(request.params).toEqual({
      mode: "payment",
      "line_items[0][price_data][currency]": standard.currency,
      "line_items[0][price_data][unit_amount]": String(standard.priceMinor),
      "line_items[0][price_data][product_data][name]": `${standard.name}: ${standard.credits} credits`,
      "line_items[0][quantity]": "1",
      client_reference_id: first.paymentId,
      "metadata[paymentId]": first.paymentId,
      "metadata[userId]": user.id,
      "payment_intent_data[metadata][paymentId]": first.paymentId,
      "payment_intent_data[metadata][userId]": user.id,
      customer: customerId,
      success_url: "http://localhost:3000/credits/success?session_id={CHECKOUT_SESSION_ID}",
      cancel_url: `http://localhost:3000/credits/cancel?payment_id=${first.paymentId}`,
    });
    // The session id is stored on our row, and the URL handed out is Stripe's.
    const sessionId = sessionIdOf(first.checkoutUrl);
    expect(first.checkoutUrl).toBe(`https://checkout.stripe.com/c/pay/${sessionId}`);
    expect(row.providerSessionId).toBe(sessionId);

    // A second checkout reuses the customer: no second customer, ever, for one user.
    const second = await checkout(user, standard.id);
    expect(second.paymentId).not.toBe(first.paymentId);
    expect(customerRequestsFor(user.id)).toHaveLength(1);
    expect(sessionRequestFor(second.paymentId).params.customer).toBe(customerId);
    expect(sessionRequestFor(second.paymentId).idempotencyKey).toBe(`checkout:${second.paymentId}`);
  });

  it("checkout.session.completed (paid) credits the pack from our payment row, once, and records the transition", async () => {
    const starter = await pack("starter");
    const user = await signUp(server.url);
    const { paymentId, checkoutUrl } = await checkout(user, starter.id);
    expect(await getPayment(user, paymentId)).toEqual({
      id: paymentId,
      status: "created",
      credits: starter.credits,
      amountMinor: starter.priceMinor,
      amountPaidMinor: null,
      amountDiscountMinor: null,
      currency: starter.currency,
      credited: false,
      underReview: false,
      receiptUrl: null,
      createdAt: expect.stringMatching(ISO),
    });

    // Metadata that claims more credits is not read: credits come from our row.
    const event = sessionEvent(mock, sessionIdOf(checkoutUrl), "checkout.session.completed", {
      overrides: { metadata: { paymentId, userId: user.id, credits: "1000000" } },
    });
    const reply = await deliver(server.url, event);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ received: true, outcome: "processed" });

    expect(await balanceOf(user.id)).toBe(starter.credits);
    expect(await getPayment(user, paymentId)).toMatchObject({
      status: "paid",
      credited: true,
      underReview: false,
      amountPaidMinor: starter.priceMinor,
      amountDiscountMinor: 0,
    });
    expect(await transitionsOf(paymentId)).toEqual([{ from: "created", to: "paid", source: event.id }]);
    expect(await ledgerOf(paymentId)).toEqual([
      { kind: "purchase", amount: starter.credits, balanceAfter: starter.credits },
    ]);

    // The history lists the purchase, linked to the payment.
    const history = await call(server.url, "GET", "/api/v1/me/credits", { cookie: user.cookie });
    expect(history.status).toBe(200);
    // The purchase is one paid grant, which its ledger row created.
    const grantId = history.body.grants[0]?.id;
    expect(history.body).toEqual({
      balance: starter.credits,
      grants: [
        {
          id: expect.stringMatching(UUID),
          category: "paid",
          priority: 50,
          remaining: starter.credits,
          expiresAt: null,
          createdAt: expect.stringMatching(ISO),
        },
      ],
      nextExpiry: null,
      transactions: [
        {
          id: expect.stringMatching(UUID),
          kind: "purchase",
          amount: starter.credits,
          balanceAfter: starter.credits,
          reason: null,
          paymentId,
          holdId: null,
          createdAt: expect.stringMatching(ISO),
          allocations: [{ grantId, amount: starter.credits, category: "paid", source: "payment" }],
        },
      ],
      nextCursor: null,
    });
    const mine = await call(server.url, "GET", "/api/v1/me/payments", { cookie: user.cookie });
    expect(mine.status).toBe(200);
    expect(mine.body.payments.map((p: { id: string; status: string }) => [p.id, p.status])).toEqual([
      [paymentId, "paid"],
    ]);
  });

  it("several purchases add up, each credited from its own row", async () => {
    const user = await signUp(server.url);
    const packs = [await pack("starter"), await pack("standard"), await pack("pro"), await pack("starter")];
    const bought = [];
    for (const p of packs) bought.push({ pack: p, ...(await checkout(user, p.id)) });
    let expected = 0;
    for (const { pack: p, paymentId, checkoutUrl } of bought) {
      const reply = await deliver(
        server.url,
        sessionEvent(mock, sessionIdOf(checkoutUrl), "checkout.session.completed"),
      );
      expect(reply.body).toEqual({ received: true, outcome: "processed" });
      expected += p.credits;
      expect(await balanceOf(user.id)).toBe(expected);
      expect((await paymentRow(paymentId)).status).toBe("paid");
    }
    expect(expected).toBe(100 + 500 + 2_000 + 100);
    const history = await call(server.url, "GET", "/api/v1/me/credits?order=asc", { cookie: user.cookie });
    expect(history.body.balance).toBe(expected);
    expect(history.body.transactions).toEqual(
      bought.map(({ pack: p, paymentId }) =>
        expect.objectContaining({ kind: "purchase", amount: p.credits, paymentId }),
      ),
    );
    expect(customerRequestsFor(user.id)).toHaveLength(1);
  });

  it("the success page credits before any webhook; the webhook that follows credits nothing more", async () => {
    const standard = await pack("standard");
    const user = await signUp(server.url);
    const { paymentId, checkoutUrl } = await checkout(user, standard.id);
    const sessionId = sessionIdOf(checkoutUrl);

    // Back on the success page while the session is still open: nothing to credit yet.
    const early = await call(server.url, "POST", "/api/v1/checkout/confirm", {
      cookie: user.cookie,
      body: { sessionId },
    });
    expect(early.status).toBe(200);
    expect(early.body).toEqual({
      payment: expect.objectContaining({ id: paymentId, status: "created", credited: false }),
      balance: 0,
    });

    // Stripe now answers the retrieve as paid.
    const paymentIntent = "pi_test_success_page";
    mock.updateSession(sessionId, { status: "complete", payment_status: "paid", payment_intent: paymentIntent });
    const retrievesBefore = mock.requestsTo("GET", `/v1/checkout/sessions/${sessionId}`).length;
    const confirmed = await call(server.url, "POST", "/api/v1/checkout/confirm", {
      cookie: user.cookie,
      body: { sessionId },
    });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body).toEqual({
      payment: expect.objectContaining({ id: paymentId, status: "paid", credited: true, underReview: false }),
      balance: standard.credits,
    });
    expect(mock.requestsTo("GET", `/v1/checkout/sessions/${sessionId}`)).toHaveLength(retrievesBefore + 1);
    expect(await transitionsOf(paymentId)).toEqual([{ from: "created", to: "paid", source: "success_page" }]);

    const webhook = await deliver(
      server.url,
      sessionEvent(mock, sessionId, "checkout.session.completed", { paymentIntent }),
    );
    expect(webhook.body).toEqual({ received: true, outcome: "processed" });
    expect(await balanceOf(user.id)).toBe(standard.credits);
    expect(await ledgerOf(paymentId)).toHaveLength(1);

    // Another user cannot confirm (or learn about) this session.
    const stranger = await signUp(server.url);
    const theirs = await call(server.url, "POST", "/api/v1/checkout/confirm", {
      cookie: stranger.cookie,
      body: { sessionId },
    });
    expect(theirs.status).toBe(404);
    expect(theirs.body).toEqual({ error: { code: "NOT_FOUND", message: "checkout session not found" } });
  });

  it("a delayed payment method: completed unpaid is pending, then async_payment_succeeded credits", async () => {
    const pro = await pack("pro");
    const user = await signUp(server.url);
    const { paymentId, checkoutUrl } = await checkout(user, pro.id);
    const sessionId = sessionIdOf(checkoutUrl);
    const paymentIntent = "pi_test_delayed_ok";

    const completed = sessionEvent(mock, sessionId, "checkout.session.completed", { paid: false, paymentIntent });
    expect((await deliver(server.url, completed)).body).toEqual({ received: true, outcome: "processed" });
    expect(await getPayment(user, paymentId)).toMatchObject({ status: "pending", credited: false });
    expect(await balanceOf(user.id)).toBe(0);

    const succeeded = sessionEvent(mock, sessionId, "checkout.session.async_payment_succeeded", { paymentIntent });
    expect((await deliver(server.url, succeeded)).body).toEqual({ received: true, outcome: "processed" });
    expect(await getPayment(user, paymentId)).toMatchObject({ status: "paid", credited: true });
    expect(await balanceOf(user.id)).toBe(pro.credits);
    expect(await transitionsOf(paymentId)).toEqual([
      { from: "created", to: "pending", source: completed.id },
      { from: "pending", to: "paid", source: succeeded.id },
    ]);
  });

  it("a delayed payment method that fails: pending, then failed, nothing credited", async () => {
    const starter = await pack("starter");
    const user = await signUp(server.url);
    const { paymentId, checkoutUrl } = await checkout(user, starter.id);
    const sessionId = sessionIdOf(checkoutUrl);
    const paymentIntent = "pi_test_delayed_fail";

    const completed = sessionEvent(mock, sessionId, "checkout.session.completed", { paid: false, paymentIntent });
    await deliver(server.url, completed);
    expect((await getPayment(user, paymentId)).status).toBe("pending");
    const failed = sessionEvent(mock, sessionId, "checkout.session.async_payment_failed", { paymentIntent });
    expect((await deliver(server.url, failed)).body).toEqual({ received: true, outcome: "processed" });
    expect(await getPayment(user, paymentId)).toMatchObject({ status: "failed", credited: false });
    expect(await balanceOf(user.id)).toBe(0);
    expect(await ledgerOf(paymentId)).toEqual([]);
    expect(await transitionsOf(paymentId)).toEqual([
      { from: "created", to: "pending", source: completed.id },
      { from: "pending", to: "failed", source: failed.id },
    ]);
  });

  it("checkout.session.expired closes an abandoned checkout as expired", async () => {
    const starter = await pack("starter");
    const user = await signUp(server.url);
    const { paymentId, checkoutUrl } = await checkout(user, starter.id);
    const expired = sessionEvent(mock, sessionIdOf(checkoutUrl), "checkout.session.expired");
    expect((await deliver(server.url, expired)).body).toEqual({ received: true, outcome: "processed" });
    expect(await getPayment(user, paymentId)).toMatchObject({ status: "expired", credited: false });
    expect(await transitionsOf(paymentId)).toEqual([{ from: "created", to: "expired", source: expired.id }]);
    expect(await balanceOf(user.id)).toBe(0);
  });
});

describe("the local provider (no STRIPE_SECRET_KEY)", () => {
  async function localCheckout(user: TestUser, packageId: string) {
    const started = await checkout(user, packageId, local.url);
    const url = new URL(started.checkoutUrl);
    expect(url.origin).toBe("http://localhost:3000");
    expect(url.pathname).toMatch(/^\/checkout\/local\/cs_local_[0-9a-f]{24}$/);
    // Follow the checkout URL on the running server.
    const page = await call(local.url, "GET", url.pathname);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.body).toContain("TEST MODE");
    return { ...started, path: url.pathname, sessionId: sessionIdOf(url.pathname) };
  }

  it("pay: 303 to the success URL, the balance is credited, the page then says it is complete", async () => {
    const standard = await pack("standard");
    const user = await signUp(local.url);
    const started = await localCheckout(user, standard.id);
    const paid = await call(local.url, "POST", `${started.path}/pay`);
    expect(paid.status).toBe(303);
    expect(paid.headers.get("location")).toBe(`http://localhost:3000/credits/success?session_id=${started.sessionId}`);
    expect(await balanceOf(user.id)).toBe(standard.credits);
    expect(await getPayment(user, started.paymentId, local.url)).toMatchObject({ status: "paid", credited: true });
    const [transition] = await transitionsOf(started.paymentId);
    expect(transition).toMatchObject({ from: "created", to: "paid", source: expect.stringMatching(/^evt_local_/) });

    // The success page confirms through the same fulfil function: nothing more is credited.
    const confirm = await call(local.url, "POST", "/api/v1/checkout/confirm", {
      cookie: user.cookie,
      body: { sessionId: started.sessionId },
    });
    expect(confirm.body).toEqual({
      payment: expect.objectContaining({ status: "paid", credited: true }),
      balance: standard.credits,
    });
    // A completed session cannot be paid again.
    const again = await call(local.url, "POST", `${started.path}/pay`);
    expect(again.status).toBe(404);
    expect(await balanceOf(user.id)).toBe(standard.credits);
    expect((await call(local.url, "GET", started.path)).body).toContain("This checkout is complete.");
  });

  it("fail: the payment ends failed, nothing credited", async () => {
    const starter = await pack("starter");
    const user = await signUp(local.url);
    const started = await localCheckout(user, starter.id);
    const failed = await call(local.url, "POST", `${started.path}/fail`);
    expect(failed.status).toBe(303);
    expect(failed.headers.get("location")).toBe(
      `http://localhost:3000/credits/success?session_id=${started.sessionId}`,
    );
    expect(await getPayment(user, started.paymentId, local.url)).toMatchObject({ status: "failed", credited: false });
    expect((await transitionsOf(started.paymentId)).map((t) => [t.from, t.to])).toEqual([
      ["created", "pending"],
      ["pending", "failed"],
    ]);
    expect(await balanceOf(user.id)).toBe(0);
  });
});

async function balanceAndCustomer(userId: string) {
  const row = await db.query.users.findFirst({ where: (u, { eq }) => eq(u.id, userId) });
  return { balance: row?.creditsBalance ?? null, customerId: row?.stripeCustomerId ?? null };
}
