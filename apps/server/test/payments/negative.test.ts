// What must be refused, and what a refusal must not leave behind: overdrafts, Stripe failing or
// hanging, late events, direct writes the database constraints forbid, non-admins (webhook
// signatures and payloads: negative-webhooks.test.ts).
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
  ledgerOf,
  ledgerRowCount,
  literal,
  pack,
  paymentRow,
  paymentsOf,
  purchaseEvents,
  query,
  type Reply,
  signUp,
  startTestServer,
  stripeEnv,
  stripeEvent,
  transitionsOf,
} from "./helpers.ts";
import { buy, mock, send, server } from "./negative-helpers.ts";

// Same Stripe mock and database, with a short Stripe timeout for the hanging-API case.
const STRIPE_TIMEOUT_MS = 200;
const impatient = await startTestServer({ ...stripeEnv, STRIPE_TIMEOUT_MS: String(STRIPE_TIMEOUT_MS) });

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
