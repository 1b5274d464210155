// What must be refused, and what a refusal must not leave behind: bad signatures, bad payloads,
// oversized bodies, amounts that do not match our payment, unknown payments, refunds beyond the
// payment (the rest: negative.test.ts).
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  balanceOf,
  call,
  checkoutSession,
  db,
  inboxRow,
  ledgerOf,
  pack,
  paymentRow,
  postWebhook,
  purchaseEvents,
  type StripeJson,
  signedWebhook,
  signUp,
  stripeEvent,
  stripeFixture,
  WEBHOOK_SECRET,
} from "./helpers.ts";
import {
  buy,
  expectInvalidPayload,
  expectInvalidSignature,
  footprint,
  mock,
  send,
  server,
} from "./negative-helpers.ts";

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
