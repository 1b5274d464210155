// What must be refused, and what a refusal must not leave behind: bad signatures, bad payloads,
// oversized bodies, amounts that do not match our payment, unknown payments, overdrafts, Stripe
// failing or hanging, direct writes the database constraints forbid, late events, non-admins.
import { randomUUID } from "node:crypto";
import { pgError } from "@credits/db";
import { apiKeys } from "@credits/db/schema";
import { describe, expect, it } from "vitest";
import {
  adminWithKey,
  balanceOf,
  call,
  checkoutSession,
  db,
  deliver,
  failOnLoggedError,
  inboxRow,
  ledgerOf,
  ledgerRowCount,
  literal,
  pack,
  paymentCount,
  paymentRow,
  paymentsOf,
  postWebhook,
  processedEventCount,
  purchaseEvents,
  query,
  type Reply,
  type StripeJson,
  signedWebhook,
  signUp,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
  stripeEvent,
  stripeFixture,
  transitionCount,
  transitionsOf,
  WEBHOOK_SECRET,
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
// Same Stripe mock and database, with a short Stripe timeout for the hanging-API case.
const STRIPE_TIMEOUT_MS = 200;
const impatient = await startTestServer({ ...stripeEnv, STRIPE_TIMEOUT_MS: String(STRIPE_TIMEOUT_MS) });
failOnLoggedError();

const buy = (slug: "starter" | "standard" | "pro" = "starter") => startPurchase(server, slug);
const send = (event: StripeJson | string) => deliver(server.url, event);

// Counts of everything a webhook may write.
async function footprint() {
  return {
    inbox: await processedEventCount(),
    ledger: await ledgerRowCount(),
    payments: await paymentCount(),
    transitions: await transitionCount(),
  };
}

function expectInvalidSignature(reply: Reply, message: RegExp) {
  expect(reply.status).toBe(400);
  expect(reply.body).toEqual({ error: { code: "INVALID_SIGNATURE", message: expect.stringMatching(message) } });
}

// Its own outcome: the signature was good, the payload is not (webhook_events_total counts it as
// bad_payload, not as a forged delivery).
function expectInvalidPayload(reply: Reply, message: RegExp) {
  expect(reply.status).toBe(400);
  expect(reply.body).toEqual({ error: { code: "INVALID_PAYLOAD", message: expect.stringMatching(message) } });
}

describe("webhook signatures", () => {
  it("wrong secret, tampered body, missing header, stale or future timestamp: 400, nothing written", async () => {
    const purchase = await buy();
    const event = purchaseEvents(mock, purchase).completed();
    const before = await footprint();
    const now = Math.floor(Date.now() / 1000);

    const wrongSecret = signedWebhook(event, "whsec_not_the_one_configured");
    expectInvalidSignature(
      await postWebhook(server.url, wrongSecret.body, wrongSecret.signature),
      /^webhook signature verification failed: No signatures found matching the expected signature for payload/,
    );

    const good = signedWebhook(event, WEBHOOK_SECRET);
    const tampered = good.body.replace(`"amount_total": ${purchase.amountMinor}`, '"amount_total": 1');
    expect(tampered).not.toBe(good.body);
    expectInvalidSignature(
      await postWebhook(server.url, tampered, good.signature),
      /^webhook signature verification failed/,
    );
    // One byte appended is as bad as a changed amount.
    expectInvalidSignature(await postWebhook(server.url, `${good.body} `, good.signature), /verification failed/);

    expectInvalidSignature(await postWebhook(server.url, good.body, null), /^missing Stripe-Signature header$/);
    expectInvalidSignature(await postWebhook(server.url, good.body, ""), /^missing Stripe-Signature header$/);

    const stale = signedWebhook(event, WEBHOOK_SECRET, now - 301);
    expectInvalidSignature(
      await postWebhook(server.url, stale.body, stale.signature),
      /^webhook signature verification failed: Timestamp outside the tolerance zone/,
    );
    const future = signedWebhook(event, WEBHOOK_SECRET, now + 360);
    expectInvalidSignature(
      await postWebhook(server.url, future.body, future.signature),
      /^webhook timestamp is too far in the future$/,
    );
    // Two timestamps, or a signature for another scheme only: refused, not interpreted.
    expectInvalidSignature(
      await postWebhook(server.url, good.body, `t=${now},${good.signature}`),
      /no single valid timestamp/,
    );
    expectInvalidSignature(
      await postWebhook(server.url, good.body, good.signature.replace("v1=", "v0=")),
      /verification failed/,
    );

    expect(await footprint()).toEqual(before);
    expect(await inboxRow(String(event.id))).toBeNull();
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ status: "created", creditedAt: null });
    expect(await balanceOf(purchase.userId)).toBe(0);

    // The genuine delivery still works afterwards.
    expect((await postWebhook(server.url, good.body, good.signature)).body).toEqual({
      received: true,
      outcome: "processed",
    });
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
  });
});

describe("webhook payloads", () => {
  it("signed but not an event: 400, nothing written", async () => {
    const before = await footprint();
    const cases: [string | StripeJson, RegExp][] = [
      ["not json at all", /^webhook body is not valid JSON$/],
      [{ hello: "world" }, /^invalid webhook event: expected a event object$/],
      [stripeFixture("charge"), /^invalid webhook event: expected a event object$/],
      [{ ...stripeEvent("checkout.session.completed", {}), id: 42 }, /event\.id is missing/],
      [{ ...stripeEvent("charge.refunded", {}), data: null }, /event\.data is missing/],
      [stripeEvent("checkout.session.completed", stripeFixture("charge")), /expected a checkout\.session object/],
      [
        stripeEvent("charge.refunded", { ...stripeFixture("charge"), amount_refunded: 12.5 }),
        /charge\.amount_refunded is not a non-negative integer/,
      ],
    ];
    for (const [body, message] of cases) {
      const reply = await send(body);
      expectInvalidPayload(reply, message);
    }
    expect(await footprint()).toEqual(before);
  });

  it("signed text Stripe never sends (NUL, an id over 255 characters): 400 or ignored, never a 500", async () => {
    const purchase = await buy();
    const before = await footprint();
    const session = () => purchaseEvents(mock, purchase).completed();
    const cases: [StripeJson, RegExp][] = [
      [
        { ...stripeEvent("customer.created", stripeFixture("customer")), type: "customer.\u0000" },
        /event\.type is missing/,
      ],
      [{ ...session(), id: `evt_${"a".repeat(300)}` }, /event\.id is not a Stripe id/],
      [{ ...session(), id: "evt_\u0000" }, /event\.id is missing/],
      [
        {
          ...session(),
          data: { object: { ...(session().data as { object: StripeJson }).object, id: `cs_${"b".repeat(4_000)}` } },
        },
        /checkout\.session\.id is not a Stripe id/,
      ],
    ];
    for (const [event, message] of cases) expectInvalidPayload(await send(event), message);
    expect(await footprint()).toEqual(before);
    // A NUL or an over-long reference reads as absent: the session names no payment.
    const stray = session();
    Object.assign((stray.data as { object: StripeJson }).object, {
      client_reference_id: "\u0000",
      metadata: { paymentId: `${purchase.paymentId}\u0000` },
    });
    expect((await send(stray)).body).toEqual({ received: true, outcome: "ignored" });
    expect(await balanceOf(purchase.userId)).toBe(0);
  });

  it("an unknown event type: 200 ignored, recorded in the inbox, nothing else written", async () => {
    const event = stripeEvent("customer.created", stripeFixture("customer"));
    const before = await footprint();
    const reply = await send(event);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ received: true, outcome: "ignored" });
    expect(await footprint()).toEqual({ ...before, inbox: before.inbox + 1 });
    expect(await inboxRow(String(event.id))).toMatchObject({
      provider: "stripe",
      type: "customer.created",
      status: "ignored",
    });
    expect((await send(event)).body).toEqual({ received: true, outcome: "duplicate" });
  });

  it("a body over 1 MiB is a 413 (declared or streamed); exactly 1 MiB is read", async () => {
    const LIMIT = 1_048_576;
    const padded = (size: number) => {
      const base = JSON.stringify(stripeEvent("customer.created", stripeFixture("customer")));
      // JSON allows trailing whitespace; the signature covers it like any other byte.
      return base + " ".repeat(size - Buffer.byteLength(base));
    };
    const before = await footprint();
    const over = signedWebhook(padded(LIMIT + 1), WEBHOOK_SECRET);
    // The server answers before reading the body, then drains it; a kept-alive socket reused by
    // the next request can race that drain (under msw's socket interception), so each oversized
    // request gets its own connection.
    const reply = await postWebhook(server.url, over.body, over.signature, { connection: "close" });
    expect(reply.status).toBe(413);
    expect(reply.body).toEqual({ error: { code: "PAYLOAD_TOO_LARGE", message: "webhook body over 1 MiB" } });

    // No Content-Length: the limit is enforced while reading.
    const chunk = new TextEncoder().encode(over.body);
    const streamed = await fetch(`${server.url}/webhooks/stripe`, {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": over.signature, connection: "close" },
      body: new ReadableStream({
        start(controller) {
          for (let offset = 0; offset < chunk.length; offset += 65_536) {
            controller.enqueue(chunk.slice(offset, offset + 65_536));
          }
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await footprint()).toEqual(before);

    const exact = signedWebhook(padded(LIMIT), WEBHOOK_SECRET);
    expect(Buffer.byteLength(exact.body)).toBe(LIMIT);
    const accepted = await postWebhook(server.url, exact.body, exact.signature);
    expect(accepted.status).toBe(200);
    expect(accepted.body).toEqual({ received: true, outcome: "ignored" });
  });

  it("a paid session whose amount or currency differs from our payment: not credited, flagged, 200", async () => {
    for (const [label, overrides] of [
      ["amount", { amount_total: 1 }],
      ["currency", { currency: "eur" }],
    ] as const) {
      const purchase = await buy("standard");
      const event = purchaseEvents(mock, purchase).completed();
      Object.assign(event.data as { object: StripeJson }, {
        object: { ...(event.data as { object: StripeJson }).object, ...overrides },
      });
      const before = await footprint();
      const reply = await send(event);
      expect(reply.status, label).toBe(200);
      expect(reply.body, label).toEqual({ received: true, outcome: "processed" });
      expect(await balanceOf(purchase.userId), label).toBe(0);
      expect(await ledgerOf(purchase.paymentId), label).toEqual([]);
      const row = await paymentRow(purchase.paymentId);
      expect(row.creditedAt, label).toBeNull();
      expect(row.reviewReason, label).toBe(
        label === "amount"
          ? `amount mismatch: paid 1 usd, expected ${purchase.amountMinor} usd`
          : `amount mismatch: paid ${purchase.amountMinor} eur, expected ${purchase.amountMinor} usd`,
      );
      expect(await footprint(), label).toEqual({ ...before, inbox: before.inbox + 1 });
      const user = await db.query.users.findFirst({ where: (u, { eq }) => eq(u.id, purchase.userId) });
      expect(user?.stripeCustomerId).toBeTruthy();
    }
  });

  it("the payment API shows a flagged payment as under review", async () => {
    const standard = await pack("standard");
    const user = await signUp(server.url);
    const started = await call(server.url, "POST", "/api/v1/checkout", {
      cookie: user.cookie,
      body: { packageId: standard.id },
    });
    expect(started.status).toBe(201);
    const sessionId = started.body.checkoutUrl.split("/").at(-1);
    const session = mock.sessions.get(sessionId) ?? {};
    await send(
      stripeEvent("checkout.session.completed", {
        ...session,
        status: "complete",
        payment_status: "paid",
        amount_total: standard.priceMinor - 1,
      }),
    );
    const reply = await call(server.url, "GET", `/api/v1/payments/${started.body.paymentId}`, { cookie: user.cookie });
    expect(reply.body).toMatchObject({ status: "created", credited: false, underReview: true });
  });

  it("a session for a payment we do not know: 200 ignored, no payment, ledger or transition written", async () => {
    for (const reference of [randomUUID(), "order-1234", "", null]) {
      const session = checkoutSession({
        id: `cs_test_${randomUUID().replaceAll("-", "")}`,
        client_reference_id: reference,
        metadata: {},
        status: "complete",
        payment_status: "paid",
        payment_intent: `pi_test_${randomUUID().replaceAll("-", "")}`,
      });
      const event = stripeEvent("checkout.session.completed", session);
      const before = await footprint();
      const reply = await send(event);
      expect(reply.status, String(reference)).toBe(200);
      expect(reply.body, String(reference)).toEqual({ received: true, outcome: "ignored" });
      // The inbox records the event id (so a retry is a duplicate); nothing else is written.
      expect(await footprint(), String(reference)).toEqual({ ...before, inbox: before.inbox + 1 });
      expect(await inboxRow(String(event.id))).toMatchObject({ type: "checkout.completed", status: "ignored" });
    }
  });

  it("a refund or dispute for a charge we never sold is answered 503 (retry later) and writes nothing", async () => {
    const before = await footprint();
    const refund = await send(
      stripeEvent("charge.refunded", {
        ...stripeFixture("charge"),
        id: "ch_test_unknown",
        payment_intent: "pi_test_unknown",
        amount_refunded: 100,
      }),
    );
    expect(refund.status).toBe(503);
    expect(refund.headers.get("retry-after")).toBe("60");
    expect(refund.body).toEqual({
      error: { code: "NOT_YET_KNOWN", message: "no payment known for pi_test_unknown yet" },
    });
    expect(await footprint()).toEqual(before);
  });
});

describe("refund amounts beyond the payment", () => {
  it("a charge reporting more refunded than we sold claws back the whole pack and flags the payment", async () => {
    const purchase = await buy("starter");
    const e = purchaseEvents(mock, purchase);
    await send(e.completed());
    const over = stripeEvent("charge.refunded", {
      ...stripeFixture("charge"),
      id: purchase.chargeId,
      payment_intent: purchase.paymentIntent,
      amount: purchase.amountMinor * 3,
      amount_refunded: purchase.amountMinor * 2,
    });
    const reply = await send(over);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ received: true, outcome: "processed" });
    expect(await balanceOf(purchase.userId)).toBe(0);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({
      status: "refunded",
      amountRefundedMinor: purchase.amountMinor,
      creditsRefunded: purchase.credits,
      reviewReason: `provider reports ${purchase.amountMinor * 2} refunded, more than the payment's ${purchase.amountMinor}`,
    });
  });
});

describe("credits", () => {
  it("spending beyond the purchased balance is a 402 and leaves the balance", async () => {
    const starter = await pack("starter");
    const user = await signUp(server.url);
    const started = await call(server.url, "POST", "/api/v1/checkout", {
      cookie: user.cookie,
      body: { packageId: starter.id },
    });
    const sessionId = started.body.checkoutUrl.split("/").at(-1);
    const session = mock.sessions.get(sessionId) ?? {};
    await send(stripeEvent("checkout.session.completed", { ...session, status: "complete", payment_status: "paid" }));
    expect(await balanceOf(user.id)).toBe(starter.credits);
    const rows = await ledgerRowCount();
    const reply = await call(server.url, "POST", "/api/v1/credits/spend", {
      cookie: user.cookie,
      body: { amount: starter.credits + 1, idempotencyKey: randomUUID() },
    });
    expect(reply.status).toBe(402);
    expect(reply.body).toEqual({
      error: {
        code: "INSUFFICIENT_CREDITS",
        message: `insufficient credits: requested ${starter.credits + 1}`,
      },
    });
    expect(await balanceOf(user.id)).toBe(starter.credits);
    expect(await ledgerRowCount()).toBe(rows);
    // Exactly the balance is fine.
    const all = await call(server.url, "POST", "/api/v1/credits/spend", {
      cookie: user.cookie,
      body: { amount: starter.credits, idempotencyKey: randomUUID() },
    });
    expect(all.status).toBe(200);
    expect(all.body.balance).toBe(0);
  });

  it("an unknown user's credits are a 404 for a credits:read key", async () => {
    const { key } = await adminWithKey(server, ["credits:read"]);
    const reply = await call(server.url, "GET", `/api/v1/users/${randomUUID()}/credits`, { key });
    expect(reply.status).toBe(404);
    expect(reply.body).toEqual({ error: { code: "NOT_FOUND", message: "user not found" } });
  });
});

describe("Stripe unavailable at checkout", () => {
  const UNAVAILABLE = {
    error: {
      code: "PROVIDER_UNAVAILABLE",
      message: "the payment provider is unavailable, try again shortly",
      requestId: expect.any(String),
    },
  };

  async function checkoutWhileFailing(base: string, mode: "500" | "hang", returning = false) {
    const standard = await pack("standard");
    const user = await signUp(base, `stripe-${mode}`);
    if (returning) {
      const first = await call(base, "POST", "/api/v1/checkout", {
        cookie: user.cookie,
        body: { packageId: standard.id },
      });
      expect(first.status).toBe(201);
    }
    const customersBefore = mock.requestsTo("POST", "/v1/customers").length;
    const sessionsBefore = mock.requestsTo("POST", "/v1/checkout/sessions").length;
    mock.failWith(mode);
    const started = Date.now();
    let reply: Reply;
    try {
      reply = await call(base, "POST", "/api/v1/checkout", { cookie: user.cookie, body: { packageId: standard.id } });
    } finally {
      mock.failWith(null);
    }
    return {
      user,
      reply,
      elapsedMs: Date.now() - started,
      customerCalls: mock.requestsTo("POST", "/v1/customers").length - customersBefore,
      sessionCalls: mock.requestsTo("POST", "/v1/checkout/sessions").length - sessionsBefore,
    };
  }

  it("Stripe answering 500: 503 PROVIDER_UNAVAILABLE, the payment closed as failed, no orphan", async () => {
    const fresh = await checkoutWhileFailing(server.url, "500");
    expect(fresh.reply.status).toBe(503);
    expect(fresh.reply.body).toEqual(UNAVAILABLE);
    // The SDK tries three times (two retries), then gives up; no session is attempted.
    expect(fresh.customerCalls).toBe(3);
    expect(fresh.sessionCalls).toBe(0);
    const [payment] = await paymentsOf(fresh.user.id);
    expect(await paymentsOf(fresh.user.id)).toHaveLength(1);
    expect(payment).toMatchObject({ status: "failed", providerSessionId: null, creditedAt: null });
    expect(await transitionsOf(payment?.id ?? "")).toEqual([
      { from: "created", to: "failed", source: "provider_error" },
    ]);
    const user = await db.query.users.findFirst({ where: (u, { eq }) => eq(u.id, fresh.user.id) });
    expect(user?.stripeCustomerId).toBeNull();

    // A returning buyer (customer stored): the session create is what fails.
    const returning = await checkoutWhileFailing(server.url, "500", true);
    expect(returning.reply.status).toBe(503);
    expect(returning.reply.body).toEqual(UNAVAILABLE);
    expect(returning.customerCalls).toBe(0);
    expect(returning.sessionCalls).toBe(3);
    expect((await paymentsOf(returning.user.id)).map((p) => p.status)).toEqual(["created", "failed"]);
  });

  it("Stripe hanging: 503 within the client timeout, the payment closed as failed", async () => {
    const hung = await checkoutWhileFailing(impatient.url, "hang");
    expect(hung.reply.status).toBe(503);
    expect(hung.reply.body).toEqual(UNAVAILABLE);
    // Three attempts of STRIPE_TIMEOUT_MS each, plus the SDK's backoff between them.
    expect(hung.customerCalls).toBe(3);
    expect(hung.elapsedMs).toBeGreaterThanOrEqual(3 * STRIPE_TIMEOUT_MS);
    expect(hung.elapsedMs).toBeLessThan(10_000);
    expect((await paymentsOf(hung.user.id)).map((p) => p.status)).toEqual(["failed"]);
  });

  it("a stray paid completion for a payment closed by a provider error is still credited: money taken is credited", async () => {
    const { user } = await checkoutWhileFailing(server.url, "500");
    const [payment] = await paymentsOf(user.id);
    if (!payment) throw new Error("no payment");
    const event = stripeEvent(
      "checkout.session.completed",
      checkoutSession({
        id: `cs_test_${randomUUID().replaceAll("-", "")}`,
        client_reference_id: payment.id,
        metadata: { paymentId: payment.id },
        amount_total: payment.amountMinor,
        currency: payment.currency,
        status: "complete",
        payment_status: "paid",
        payment_intent: `pi_test_${randomUUID().replaceAll("-", "")}`,
      }),
    );
    expect((await send(event)).body).toEqual({ received: true, outcome: "processed" });
    expect(await balanceOf(user.id)).toBe(payment.credits);
    expect((await transitionsOf(payment.id)).map((t) => [t.from, t.to])).toEqual([
      ["created", "failed"],
      ["failed", "paid"],
    ]);
  });
});

describe("late events", () => {
  it("expired, then a late paid completion: the money was taken, so the payment is credited", async () => {
    const purchase = await buy("pro");
    const e = purchaseEvents(mock, purchase);
    const expired = e.expired();
    await send(expired);
    expect((await paymentRow(purchase.paymentId)).status).toBe("expired");
    const paid = e.completed();
    expect((await send(paid)).body).toEqual({ received: true, outcome: "processed" });
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ status: "paid", creditedAt: expect.any(Date) });
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
    expect(await transitionsOf(purchase.paymentId)).toEqual([
      { from: "created", to: "expired", source: expired.id },
      { from: "expired", to: "paid", source: paid.id },
    ]);
    // And an expiry arriving after that changes nothing.
    await send(e.expired());
    expect((await paymentRow(purchase.paymentId)).status).toBe("paid");
  });
});

describe("database constraints", () => {
  async function refused(statement: string): Promise<{ code: string | undefined; constraint: string | undefined }> {
    const error = await query(statement).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error, statement).not.toBeNull();
    const pg = pgError(error);
    return { code: pg?.code, constraint: pg?.constraint };
  }

  it("refuses payments that break their bounds, any edit of the ledger or transitions, and a bare negative balance", async () => {
    const purchase = await buy("standard");
    await send(purchaseEvents(mock, purchase).completed());
    const id = literal(purchase.paymentId);

    expect(await refused(`UPDATE payments SET amount_refunded_minor = amount_minor + 1 WHERE id = ${id}`)).toEqual({
      code: "23514",
      constraint: "payments_refund_bounded",
    });
    expect(await refused(`UPDATE payments SET credits_refunded = credits + 1 WHERE id = ${id}`)).toEqual({
      code: "23514",
      constraint: "payments_clawback_bounded",
    });
    expect(await refused(`UPDATE payments SET amount_minor = 0 WHERE id = ${id}`)).toEqual({
      code: "23514",
      constraint: "payments_amount_positive",
    });
    expect(await refused(`UPDATE payments SET currency = 'USD' WHERE id = ${id}`)).toEqual({
      code: "23514",
      constraint: "payments_currency_iso",
    });
    expect(await refused(`UPDATE users SET credits_balance = -1 WHERE id = ${literal(purchase.userId)}`)).toEqual({
      code: "23514",
      constraint: "users_balance_non_negative",
    });

    // The ledger and the transition log are append-only.
    for (const statement of [
      `UPDATE credit_transactions SET amount = amount * 2 WHERE payment_id = ${id}`,
      `DELETE FROM credit_transactions WHERE payment_id = ${id}`,
      `UPDATE payment_transitions SET to_status = 'refunded' WHERE payment_id = ${id}`,
      `DELETE FROM payment_transitions WHERE payment_id = ${id}`,
    ]) {
      expect((await refused(statement)).code, statement).toBe("42501");
    }
    // One purchase per payment, whatever inserts it.
    const { code } = await refused(
      `INSERT INTO credit_transactions (user_id, amount, balance_after, kind, idempotency_key, payment_id)
       VALUES (${literal(purchase.userId)}, 500, 1000, 'purchase', ${literal(`s:purchase:${purchase.paymentId}`)}, ${id})`,
    );
    expect(code).toBe("23505");

    expect(await ledgerOf(purchase.paymentId)).toEqual([{ kind: "purchase", amount: 500, balanceAfter: 500 }]);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ amountRefundedMinor: 0, creditsRefunded: 0 });
    expect(await balanceOf(purchase.userId)).toBe(500);
  });
});

describe("admin actions", () => {
  it("a plain user creating an API key is a 403 (an API key a 401), and nothing is written", async () => {
    const user = await signUp(server.url, "plain");
    const before = await db.$count(apiKeys);
    const reply = await call(server.url, "POST", "/api/v1/admin/api-keys", {
      cookie: user.cookie,
      body: { name: "mine now", scopes: ["credits:grant"] },
    });
    expect(reply.status).toBe(403);
    expect(reply.body).toEqual({ error: { code: "FORBIDDEN", message: "admins only" } });
    expect(await db.$count(apiKeys)).toBe(before);
    // An API key (even with every credit scope) is no admin session: admin routes want one.
    const { key } = await adminWithKey(server, ["credits:read", "credits:spend", "credits:grant"]);
    const withKey = await call(server.url, "POST", "/api/v1/admin/api-keys", {
      key,
      body: { name: "escalate", scopes: ["credits:grant"] },
    });
    expect({ status: withKey.status, body: withKey.body }).toEqual({
      status: 401,
      body: { error: { code: "UNAUTHENTICATED", message: "sign in first" } },
    });
    expect(await db.$count(apiKeys)).toBe(before + 1);
  });
});
