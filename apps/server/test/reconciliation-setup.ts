// Shared by the reconciliation tests: the real server (its own services, on this test file's
// database) on the Stripe provider, whose API is the msw mock built from Stripe's fixtures.
import { randomUUID } from "node:crypto";
import type { Payment } from "@credits/core";
import { creditPackages, creditTransactions, payments, users } from "@credits/db/schema";
import {
  type CheckoutSessionOverrides,
  charge,
  checkoutSession,
  checkoutSessionEvent,
  createStripeApiMock,
  listenMsw,
  randomStripeId,
  STRIPE_TEST_API_BASE,
  type StripeJson,
  signedWebhook,
} from "@credits/stripe/testing";
import { and, eq } from "drizzle-orm";
import { afterEach } from "vitest";
import type { RunningServer } from "../src/main.ts";
import { startTestServer, testDb } from "./harness.ts";

export { charge, checkoutSession, randomStripeId, testDb };

const WEBHOOK_SECRET = "whsec_test_reconciliation_3e8b1c";
export const stripeEnv = {
  STRIPE_SECRET_KEY: "sk_test_reconciliation_51a9d2",
  STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
  STRIPE_API_BASE: STRIPE_TEST_API_BASE,
};

// Stripe's API for this file: every request the provider makes is answered by the mock, and
// anything unhandled fails loudly (these tests make no other HTTP calls).
export async function startReconciliationServer(overrides: Record<string, string> = {}) {
  const mock = createStripeApiMock(STRIPE_TEST_API_BASE);
  listenMsw(mock.handlers, "error");
  afterEach(() => mock.reset());
  const server = await startTestServer({ ...stripeEnv, ...overrides });
  return { mock, server, ...tools(server, mock) };
}

type StripeMock = ReturnType<typeof createStripeApiMock>;

function tools(server: RunningServer, mock: StripeMock) {
  const { db } = testDb;
  const { services } = server;
  const now = () => Math.floor(Date.now() / 1000);

  async function newUser(): Promise<string> {
    const [user] = await db
      .insert(users)
      .values({ email: `recon-${randomUUID()}@example.test` })
      .returning({ id: users.id });
    if (!user) throw new Error("user not created");
    return user.id;
  }

  // A real checkout through the payment service: our payment row, then Stripe's session (msw).
  async function checkout(slug = "starter"): Promise<{ userId: string; payment: Payment; sessionId: string }> {
    const userId = await newUser();
    const [pack] = await db.select().from(creditPackages).where(eq(creditPackages.slug, slug));
    if (!pack) throw new Error(`no package ${slug}`);
    const { paymentId } = await services.payments.createCheckout(userId, pack.id);
    const payment = await paymentRow(paymentId);
    if (!payment.providerSessionId) throw new Error("checkout stored no session id");
    return { userId, payment, sessionId: payment.providerSessionId };
  }

  // What Stripe's list (and retrieve) endpoints answer for a session from now on.
  function stripeSession(sessionId: string, fields: CheckoutSessionOverrides): StripeJson {
    const created = mock.sessions.get(sessionId);
    if (!created) throw new Error(`no session ${sessionId} at the mock`);
    const session = { ...created, ...fields };
    mock.updateSession(sessionId, fields);
    mock.seedCheckoutSessions([session]);
    return session;
  }

  const paidAtStripe = (sessionId: string, paymentIntent: string, fields: CheckoutSessionOverrides = {}) =>
    stripeSession(sessionId, {
      status: "complete",
      payment_status: "paid",
      url: null,
      payment_intent: paymentIntent,
      ...fields,
    });

  // A signed checkout.session.completed through the provider's verification and the webhook
  // handler: the usual way a payment gets credited.
  async function deliverPaid(paymentId: string, sessionId: string, paymentIntent: string) {
    const event = checkoutSessionEvent("checkout.session.completed", {
      id: sessionId,
      client_reference_id: paymentId,
      amount_total: (await paymentRow(paymentId)).amountMinor,
      currency: "usd",
      payment_intent: paymentIntent,
    });
    const { body, signature } = signedWebhook(event, WEBHOOK_SECRET);
    return services.payments.handleEvent(services.provider.parseWebhook(body, signature), body);
  }

  function chargeAtStripe(paymentIntent: string, amount: number, refunded = 0): string {
    const id = randomStripeId("ch");
    mock.seedCharges([
      charge({ id, payment_intent: paymentIntent, amount, amount_refunded: refunded, currency: "usd", created: now() }),
    ]);
    return id;
  }

  async function paymentRow(id: string): Promise<Payment> {
    const [row] = await db.select().from(payments).where(eq(payments.id, id));
    if (!row) throw new Error(`no payment ${id}`);
    return row;
  }

  async function ledger(paymentId: string, kind?: "purchase" | "refund_clawback") {
    return db
      .select()
      .from(creditTransactions)
      .where(and(eq(creditTransactions.paymentId, paymentId), kind ? eq(creditTransactions.kind, kind) : undefined));
  }

  const balance = async (userId: string) => services.credits.balance(userId);

  return { newUser, checkout, stripeSession, paidAtStripe, deliverPaid, chargeAtStripe, paymentRow, ledger, balance };
}
