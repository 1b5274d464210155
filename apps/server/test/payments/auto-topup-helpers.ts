// Shared by the auto top-up tests: a buyer who opted in and whose card a Checkout saved (through
// the real path: the session asks Stripe to keep the card, payment_intent.succeeded names it),
// spends, and what the platform recorded about each attempt.
import { randomUUID } from "node:crypto";
import { autoTopUpAttempts, mails, outboxEvents, payments } from "@credits/db/schema";
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import { HttpResponse } from "msw";
import { expect } from "vitest";
import type { RunningServer } from "../../src/main.ts";
import {
  balanceOf,
  call,
  db,
  deliver,
  pack,
  purchaseEvents,
  randomStripeId,
  type StripeJson,
  type StripeMock,
  signUp,
  startPurchase,
  stripeEvent,
  stripeFixture,
  type TestUser,
} from "./helpers.ts";

export interface Saver extends TestUser {
  paymentMethod: string;
  customer: string;
}

export const optIn = (server: RunningServer, user: { cookie: string }, body: Record<string, unknown>) =>
  call(server.url, "PUT", "/api/v1/me/auto-topup", { cookie: user.cookie, body });

export const autoTopUpOf = (server: RunningServer, user: { cookie: string }) =>
  call(server.url, "GET", "/api/v1/me/auto-topup", { cookie: user.cookie });

// The PaymentIntent behind a Checkout that saved the card, as Stripe sends it.
export function savedCardIntent(fields: {
  paymentId: string;
  userId: string;
  customer: string;
  paymentMethod: string;
}) {
  return stripeFixture("payment_intent", {
    id: randomStripeId("pi"),
    status: "succeeded",
    amount: 500,
    amount_received: 500,
    currency: "usd",
    customer: fields.customer,
    payment_method: fields.paymentMethod,
    setup_future_usage: "off_session",
    last_payment_error: null,
    metadata: { paymentId: fields.paymentId, userId: fields.userId },
  });
}

// Signs up, opts in (threshold, the starter pack), buys the starter pack through Checkout with the
// card saved: 100 credits and a card.
export async function saverWithCard(server: RunningServer, mock: StripeMock, threshold = 50): Promise<Saver> {
  const user = await signUp(server.url, "saver");
  const starter = await pack("starter");
  const opted = await optIn(server, user, { enabled: true, threshold, packageId: starter.id });
  expect(opted.status, JSON.stringify(opted.body)).toBe(200);
  const paymentMethod = randomStripeId("pm");
  const customer = await buySavingCard(server, mock, user.id, paymentMethod);
  return { ...user, paymentMethod, customer };
}

// Buys the starter pack through Checkout, its PaymentIntent saving `paymentMethod`: the customer.
export async function buySavingCard(server: RunningServer, mock: StripeMock, userId: string, paymentMethod: string) {
  const purchase = await startPurchase(server, "starter", userId);
  expect((await deliver(server.url, purchaseEvents(mock, purchase).completed())).status).toBe(200);
  const customer = String((mock.sessions.get(purchase.sessionId) as StripeJson).customer);
  const intent = savedCardIntent({ paymentId: purchase.paymentId, userId, customer, paymentMethod });
  expect((await deliver(server.url, stripeEvent("payment_intent.succeeded", intent))).status).toBe(200);
  return customer;
}

export const spend = (server: RunningServer, userId: string, amount: number) =>
  server.services.credits.spend({
    userId,
    amount,
    idempotencyKey: randomUUID(),
    scope: { kind: "user", id: userId },
    reason: "auto top-up test",
  });

export const grant = (server: RunningServer, userId: string, amount: number) =>
  server.services.credits.grant({
    userId,
    amount,
    idempotencyKey: randomUUID(),
    scope: { kind: "user", id: userId },
    reason: "auto top-up test",
  });

export const attemptsOf = (userId: string) =>
  db
    .select()
    .from(autoTopUpAttempts)
    .where(eq(autoTopUpAttempts.userId, userId))
    .orderBy(asc(autoTopUpAttempts.createdAt));

export const eventsOf = async (userId: string, type: string) =>
  (
    await db
      .select({ payload: outboxEvents.payload })
      .from(outboxEvents)
      .where(and(eq(outboxEvents.userId, userId), eq(outboxEvents.type, type)))
      .orderBy(asc(outboxEvents.seq))
  ).map((row) => (row.payload as { data: Record<string, unknown> }).data);

export const mailsOf = (userId: string, template: string) =>
  db
    .select({ cause: mails.cause, data: mails.data })
    .from(mails)
    .where(and(eq(mails.userId, userId), eq(mails.template, template)));

export const intentRequests = (mock: StripeMock, customer: string) =>
  mock.requestsTo("POST", "/v1/payment_intents").filter((r) => r.params.customer === customer);

// Lets the worker claim the user's in-flight attempts again now (as if their lease ran out).
export const expireLeases = (userId: string) =>
  db
    .update(autoTopUpAttempts)
    .set({ lockedUntil: sql`now() - interval '1 second'` })
    .where(eq(autoTopUpAttempts.userId, userId));

// Moves the user's attempts and their payments to yesterday: out of today's cap, which counts
// declines too (by the payment's time).
export async function ageAttempts(userId: string) {
  await db
    .update(autoTopUpAttempts)
    .set({ createdAt: sql`now() - interval '1 day'` })
    .where(eq(autoTopUpAttempts.userId, userId));
  await db
    .update(payments)
    .set({ createdAt: sql`now() - interval '1 day'` })
    .where(
      inArray(
        payments.id,
        db
          .select({ id: autoTopUpAttempts.paymentId })
          .from(autoTopUpAttempts)
          .where(eq(autoTopUpAttempts.userId, userId)),
      ),
    );
}

// Stripe charges the saved card, but every answer (the SDK's retries too) is lost and no webhook
// comes: the attempt stays processing, the balance below the threshold (60 spent of 100).
export async function chargedWithAnswerLost(server: RunningServer, mock: StripeMock) {
  const saver = await saverWithCard(server, mock);
  let charged: StripeJson = {};
  mock.beforeIntentAnswer(async (intent) => {
    charged = intent;
    mock.failWith("500");
    return HttpResponse.json({ error: { type: "api_error", message: "lost" } }, { status: 500 });
  });
  try {
    await spend(server, saver.id, 60);
    await server.services.autoTopUp.runOnce();
  } finally {
    mock.beforeIntentAnswer(null);
    mock.failWith(null);
  }
  const [attempt] = await attemptsOf(saver.id);
  expect(attempt?.status).toBe("processing");
  expect(await balanceOf(saver.id)).toBe(40);
  return { saver, charged, paymentId: attempt?.paymentId ?? "" };
}
