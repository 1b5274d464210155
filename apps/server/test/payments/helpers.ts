// Shared by the payment tests: the real server over real HTTP, Stripe's API answered by the msw
// mock (packages/stripe/test/msw), webhook events built from Stripe's fixtures and signed like
// Stripe signs them (packages/stripe/test/fixtures). Nothing here reads ../shared.

import { randomUUID } from "node:crypto";
import { rowsOf } from "@credits/db";
import {
  creditPackagePrices,
  creditPackages,
  creditTransactions,
  payments,
  paymentTransitions,
  processedEvents,
  users,
} from "@credits/db/schema";
import { captureLogs, type LogCapture } from "@credits/observability";
import {
  chargeRefundedEvent,
  createStripeApiMock,
  disputeEvent,
  type EventOverrides,
  listenMsw,
  randomStripeId,
  STRIPE_TEST_API_BASE,
  type StripeJson,
  signedWebhook,
  stripeEvent,
} from "@credits/stripe/testing";
import { and, eq } from "drizzle-orm";
import { afterEach, beforeEach, expect } from "vitest";
import type { RunningServer } from "../../src/main.ts";
import { testDb } from "../harness.ts";

export * from "@credits/stripe/testing";
export { startTestServer, testDb } from "../harness.ts";

export const { db } = testDb;
export const onPostgres = testDb.driver === "postgres";
export const PASSWORD = "correct horse battery";
export const WEBHOOK_SECRET = "whsec_test_payments_9c41d7e0b2a84f3e";

// The env that puts the server on the Stripe provider, talking to the msw mock.
export const stripeEnv = {
  STRIPE_SECRET_KEY: "sk_test_payments_5f0e9a2b7c1d4e6f",
  STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
  STRIPE_API_BASE: STRIPE_TEST_API_BASE,
};

// Stripe's API in this process: the server runs in-process, so msw sees its fetch calls. Calls to
// our own server (127.0.0.1) pass through; anything else unhandled fails the request loudly.
export function startStripeMock() {
  const mock = createStripeApiMock(STRIPE_TEST_API_BASE);
  // Closes interception (once; else after the file): a file that needs Stripe only to set up can stop it early.
  const { close: stop } = listenMsw(mock.handlers, ({ frame }) => {
    const request = (frame.data as { request?: Request } | null)?.request;
    const url = request ? new URL(request.url) : null;
    if (url?.hostname === "127.0.0.1") return;
    throw new Error(`unexpected network call: ${url?.href ?? "a non-HTTP frame"}`);
  });
  return { mock, stop };
}

import { call, type Reply } from "../http-call.ts";

export { type CallOptions, call, type Reply } from "../http-call.ts";

export interface TestUser {
  id: string;
  email: string;
  cookie: string;
}

export async function signUp(base: string, label = "buyer"): Promise<TestUser> {
  const email = `${label}-${randomUUID()}@example.test`;
  const reply = await call(base, "POST", "/api/v1/auth/signup", { body: { email, password: PASSWORD } });
  expect(reply.status).toBe(201);
  const pair = reply.headers.getSetCookie()[0]?.split(";")[0] ?? "";
  expect(pair).toMatch(/^session=/);
  return { id: reply.body.user.id, email, cookie: pair };
}

// A user straight in the table (no password, no session): for tests that need many buyers and
// drive their checkouts through the services.
export async function insertUser(label = "bulk"): Promise<string> {
  const [row] = await db
    .insert(users)
    .values({ email: `${label}-${randomUUID()}@example.test` })
    .returning({ id: users.id });
  if (!row) throw new Error("user not inserted");
  return row.id;
}

// An admin's session and an API key with the given scopes, made over HTTP.
export async function adminWithKey(server: RunningServer, scopes: string[]): Promise<{ cookie: string; key: string }> {
  const email = `admin-${randomUUID()}@example.test`;
  await server.services.auth.createUser({ email, password: PASSWORD, role: "admin" });
  const login = await call(server.url, "POST", "/api/v1/auth/login", { body: { email, password: PASSWORD } });
  expect(login.status).toBe(200);
  const cookie = login.headers.getSetCookie()[0]?.split(";")[0] ?? "";
  const created = await call(server.url, "POST", "/api/v1/admin/api-keys", {
    cookie,
    body: { name: "payments tests", scopes },
  });
  expect(created.status).toBe(200);
  return { cookie, key: created.body.key };
}

export interface Pack {
  id: string;
  slug: string;
  name: string;
  credits: number;
  priceMinor: number;
  currency: string;
}

// A seeded pack with its default (first) price, as the payment tests buy it.
export async function pack(slug: "starter" | "standard" | "pro"): Promise<Pack> {
  const [found] = await db
    .select({
      id: creditPackages.id,
      slug: creditPackages.slug,
      name: creditPackages.name,
      credits: creditPackages.credits,
      priceMinor: creditPackagePrices.unitAmount,
      currency: creditPackagePrices.currency,
    })
    .from(creditPackages)
    .innerJoin(creditPackagePrices, eq(creditPackagePrices.packageId, creditPackages.id))
    .where(and(eq(creditPackages.slug, slug), eq(creditPackagePrices.sortOrder, 0)));
  if (!found) throw new Error(`no ${slug} pack`);
  return found;
}

// POSTs a webhook body with the given Stripe-Signature header (none when null).
export async function postWebhook(
  base: string,
  body: string,
  signature: string | null,
  extraHeaders: Record<string, string> = {},
): Promise<Reply> {
  const headers: Record<string, string> = { "content-type": "application/json", ...extraHeaders };
  if (signature !== null) headers["stripe-signature"] = signature;
  const response = await fetch(`${base}/webhooks/stripe`, { method: "POST", headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: the assertion on the body will show it.
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

// Signs the event now, with the suite's secret, and delivers it.
export function deliver(base: string, event: StripeJson | string): Promise<Reply> {
  const { body, signature } = signedWebhook(event, WEBHOOK_SECRET);
  return postWebhook(base, body, signature);
}

export type SessionEventType =
  | "checkout.session.completed"
  | "checkout.session.async_payment_succeeded"
  | "checkout.session.async_payment_failed"
  | "checkout.session.expired";

// A checkout.session event for a session the msw mock created (so its id, client_reference_id,
// metadata, amount and currency are what the server asked Stripe for), in the state Stripe sends
// it for that event type. `paid` decides payment_status of a completed session.
export function sessionEvent(
  mock: { sessions: Map<string, StripeJson> },
  sessionId: string,
  type: SessionEventType,
  options: { paymentIntent?: string | null; paid?: boolean; overrides?: StripeJson; event?: EventOverrides } = {},
): StripeJson {
  const session = mock.sessions.get(sessionId);
  if (!session) throw new Error(`msw holds no session ${sessionId}`);
  const paymentIntent = options.paymentIntent === undefined ? randomStripeId("pi") : options.paymentIntent;
  const state: Record<SessionEventType, StripeJson> = {
    "checkout.session.completed": {
      status: "complete",
      payment_status: options.paid === false ? "unpaid" : "paid",
      payment_intent: paymentIntent,
    },
    "checkout.session.async_payment_succeeded": {
      status: "complete",
      payment_status: "paid",
      payment_intent: paymentIntent,
    },
    "checkout.session.async_payment_failed": {
      status: "complete",
      payment_status: "unpaid",
      payment_intent: paymentIntent,
    },
    "checkout.session.expired": { status: "expired", payment_status: "unpaid", payment_intent: null },
  };
  return stripeEvent(type, { ...session, url: null, ...state[type], ...options.overrides }, options.event);
}

export const sessionIdOf = (checkoutUrl: string) => checkoutUrl.split("/").at(-1) ?? "";

export async function balanceOf(userId: string): Promise<number> {
  const row = await db.query.users.findFirst({ where: (u, { eq }) => eq(u.id, userId) });
  if (!row) throw new Error(`no user ${userId}`);
  return row.creditsBalance;
}

export async function paymentRow(id: string) {
  const row = await db.query.payments.findFirst({ where: (p, { eq }) => eq(p.id, id) });
  if (!row) throw new Error(`no payment ${id}`);
  return row;
}

export const paymentsOf = (userId: string) =>
  db.query.payments.findMany({ where: (p, { eq }) => eq(p.userId, userId), orderBy: (p, { asc }) => asc(p.createdAt) });

export const transitionsOf = async (paymentId: string) =>
  (
    await db.query.paymentTransitions.findMany({
      where: (t, { eq }) => eq(t.paymentId, paymentId),
      orderBy: (t, { asc }) => asc(t.seq),
    })
  ).map((t) => ({ from: t.fromStatus, to: t.toStatus, source: t.source }));

// The payment's ledger rows, in posting order.
export const ledgerOf = async (paymentId: string) =>
  (
    await db.query.creditTransactions.findMany({
      where: (t, { eq }) => eq(t.paymentId, paymentId),
      orderBy: (t, { asc }) => asc(t.seq),
    })
  ).map((t) => ({ kind: t.kind, amount: t.amount, balanceAfter: t.balanceAfter }));

export const ledgerRowCount = () => db.$count(creditTransactions);
export const processedEventCount = () => db.$count(processedEvents);
export const paymentCount = () => db.$count(payments);
export const transitionCount = () => db.$count(paymentTransitions);

export const inboxRow = async (id: string) =>
  (await db.query.processedEvents.findFirst({ where: (e, { eq }) => eq(e.id, id) })) ?? null;

// Raw SQL for the few checks the query builder cannot express (constraints, locks). Only
// test-generated identifiers are ever interpolated.
export async function query<T>(text: string): Promise<T[]> {
  return rowsOf<T>(await db.execute(text));
}

export const literal = (value: string) => `'${value.replaceAll("'", "''")}'`;

// Runs at most `limit` of the tasks at once, keeping their order in the result.
export async function pooled<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  async function worker() {
    while (next < tasks.length) {
      const index = next++;
      const task = tasks[index];
      if (task) results[index] = await task();
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

// The server reports an unhandled error (a 500) with console.error: any such call fails the test.
// Any error the server logs (an unhandled error answered 500, above all) fails the test.
export function failOnLoggedError() {
  let capture: LogCapture | undefined;
  beforeEach(() => {
    capture = captureLogs("error");
  });
  afterEach(() => {
    const errors = (capture?.entries() ?? []).filter((entry) => entry.level === "error" || entry.level === 50);
    capture?.stop();
    // The first characters of each, enough to name the failure without pages of payload.
    expect(
      errors.map((entry) => JSON.stringify(entry).slice(0, 600)),
      "unexpected error logged",
    ).toEqual([]);
  });
}

export type StripeMock = ReturnType<typeof startStripeMock>["mock"];

// One purchase in the making: a buyer, our payment row and its Checkout Session (created through
// the services, Stripe answered by msw), and the provider ids its events will carry.
export interface Purchase {
  userId: string;
  paymentId: string;
  sessionId: string;
  paymentIntent: string;
  chargeId: string;
  credits: number;
  amountMinor: number;
}

export async function startPurchase(
  server: RunningServer,
  slug: "starter" | "standard" | "pro",
  userId?: string,
): Promise<Purchase> {
  const p = await pack(slug);
  const buyer = userId ?? (await insertUser());
  const { paymentId, checkoutUrl } = await server.services.payments.createCheckout(buyer, p.id);
  return {
    userId: buyer,
    paymentId,
    sessionId: sessionIdOf(checkoutUrl),
    paymentIntent: randomStripeId("pi"),
    chargeId: randomStripeId("ch"),
    credits: p.credits,
    amountMinor: p.priceMinor,
  };
}

// The events Stripe sends about one purchase.
export function purchaseEvents(mock: StripeMock, purchase: Purchase) {
  const { sessionId, paymentIntent, chargeId, amountMinor } = purchase;
  return {
    completed: (paid = true) => sessionEvent(mock, sessionId, "checkout.session.completed", { paymentIntent, paid }),
    asyncSucceeded: () => sessionEvent(mock, sessionId, "checkout.session.async_payment_succeeded", { paymentIntent }),
    asyncFailed: () => sessionEvent(mock, sessionId, "checkout.session.async_payment_failed", { paymentIntent }),
    expired: () => sessionEvent(mock, sessionId, "checkout.session.expired"),
    refunded: (amountRefundedMinor: number) =>
      chargeRefundedEvent({
        id: chargeId,
        amount: amountMinor,
        amount_refunded: amountRefundedMinor,
        payment_intent: paymentIntent,
      }),
    // amount: the dispute's (all or part of the charge); the price unless given.
    disputeCreated: (amount = amountMinor) =>
      disputeEvent("charge.dispute.created", { charge: chargeId, payment_intent: paymentIntent, amount }),
    disputeClosed: (status: "won" | "lost", amount = amountMinor) =>
      disputeEvent("charge.dispute.closed", { charge: chargeId, payment_intent: paymentIntent, amount, status }),
  };
}
