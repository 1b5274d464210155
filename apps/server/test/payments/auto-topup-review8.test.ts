// Review 8 (auto top-up): a flagged credit ends its attempt, the stale worker's race, the
// checkout idempotency key that posed as an auto top-up, and the card of a lost Checkout event.
import { randomUUID } from "node:crypto";
import { AUTO_TOPUP_MAX_TRIES } from "@credits/core";
import { autoTopUpAttempts, payments } from "@credits/db/schema";
import { eq, sql } from "drizzle-orm";
import { HttpResponse } from "msw";
import { describe, expect, it } from "vitest";
import {
  attemptsOf,
  autoTopUpOf,
  eventsOf,
  intentRequests,
  mailsOf,
  saverWithCard,
  spend,
} from "./auto-topup-helpers.ts";
import {
  balanceOf,
  call,
  db,
  failOnLoggedError,
  pack,
  paymentRow,
  type StripeJson,
  signUp,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer({ ...stripeEnv, AUTO_TOPUP_MAX_PER_DAY: "2", AUTO_TOPUP_MAX_PER_MONTH: "10" });
failOnLoggedError();

describe("review8 F10: a flagged auto top-up does not stay processing", () => {
  it("Stripe charged another amount: the attempt fails (flagged), the PaymentIntent is kept, auto top-up turned off", async () => {
    const saver = await saverWithCard(server, mock);
    let charged: StripeJson = {};
    // Stripe answers with a PaymentIntent for another amount than the payment's (never expected).
    mock.beforeIntentAnswer(async (intent) => {
      charged = { ...intent, amount: 9_999, amount_received: 9_999 };
      return HttpResponse.json(charged);
    });
    try {
      await spend(server, saver.id, 60);
      await server.services.autoTopUp.runOnce();
    } finally {
      mock.beforeIntentAnswer(null);
    }
    const [attempt] = await attemptsOf(saver.id);
    // Today: processing until the worker gives up 23 hours later, the PaymentIntent id unsaved.
    expect([attempt?.status, attempt?.reason]).toEqual(["failed", "flagged"]);
    const payment = await paymentRow(attempt?.paymentId ?? "");
    expect(payment.providerPaymentIntentId).toBe(charged.id);
    expect(payment.reviewReason).toMatch(/amount mismatch/);
    expect(payment.creditedAt).toBeNull();
    expect(await balanceOf(saver.id)).toBe(40);
    // Charged but not credited: no more off-session charges until the user turns it on again, and
    // no "we could not charge your card" mail (the card was charged).
    expect((await autoTopUpOf(server, saver)).body).toMatchObject({ enabled: false });
    expect(((await autoTopUpOf(server, saver)).body.disabledReason ?? "") as string).toMatch(/review/);
    expect(await mailsOf(saver.id, "auto_topup_failed")).toHaveLength(0);
    expect(await eventsOf(saver.id, "auto_topup.succeeded")).toHaveLength(0);
  });
});

describe("review8: a worker whose lease ran out and a fresh one", () => {
  it("the fresh worker's create meets Stripe's 409 (key in use) on its last try: left in flight, no failure, the winner credited", async () => {
    const saver = await saverWithCard(server, mock);
    // The first worker's create is at Stripe (not yet answered) when its lease runs out and a
    // second worker claims the attempt (its last try) and sends the same create under the same key.
    mock.beforeIntentAnswer(async () => {
      mock.beforeIntentAnswer(null);
      await db
        .update(autoTopUpAttempts)
        .set({ tries: AUTO_TOPUP_MAX_TRIES - 1, lockedUntil: sql`now() - interval '1 second'` })
        .where(eq(autoTopUpAttempts.userId, saver.id));
      await server.services.autoTopUp.runOnce();
      return undefined;
    });
    try {
      await spend(server, saver.id, 60);
      await server.services.autoTopUp.runOnce();
    } finally {
      mock.beforeIntentAnswer(null);
    }
    // Today: Stripe's 409 (after the SDK's own retries) ends the last try as a provider error: the
    // attempt failed, a failure counted and a pay link mailed, while the first worker's charge is
    // credited.
    expect(intentRequests(mock, saver.customer).length).toBeGreaterThan(1);
    expect(await mailsOf(saver.id, "auto_topup_failed")).toHaveLength(0);
    expect(await eventsOf(saver.id, "auto_topup.failed")).toHaveLength(0);
    expect((await attemptsOf(saver.id)).map((a) => [a.status, a.reason])).toEqual([["succeeded", null]]);
    expect((await autoTopUpOf(server, saver)).body).toMatchObject({ enabled: true, consecutiveFailures: 0 });
    expect(await balanceOf(saver.id)).toBe(140);
  });

  it("a worker whose claim was taken over does not send the create (its lease is checked, and extended, per attempt)", async () => {
    const first = await saverWithCard(server, mock);
    const second = await saverWithCard(server, mock);
    // One worker claims both crossings; while it charges the first, the second's lease runs out
    // and another worker claims it (its charge still to come).
    await spend(server, first.id, 60);
    await spend(server, second.id, 60);
    mock.beforeIntentAnswer(async (intent) => {
      if (intent.customer !== first.customer) return undefined;
      await db
        .update(autoTopUpAttempts)
        .set({ tries: sql`${autoTopUpAttempts.tries} + 1`, lockedUntil: sql`now() + interval '60 seconds'` })
        .where(eq(autoTopUpAttempts.userId, second.id));
      return undefined;
    });
    try {
      await server.services.autoTopUp.runOnce();
    } finally {
      mock.beforeIntentAnswer(null);
    }
    // Today: the stale worker charges the second anyway, at the same time as the worker that now
    // holds it (the 409 race above).
    expect(intentRequests(mock, second.customer)).toHaveLength(0);
    expect((await attemptsOf(second.id)).map((a) => a.status)).toEqual(["pending"]);
    // The first, charged by this worker, had its lease extended right before its create.
    const [charged] = await attemptsOf(first.id);
    expect(charged?.status).toBe("succeeded");
  });
});

describe("review8: a checkout idempotency key that looks like an auto top-up's", () => {
  it("a checkout started with the key auto_topup:<anything> can still be canceled by its owner", async () => {
    const buyer = await signUp(server.url, "hostile-key");
    const starter = await pack("starter");
    const started = await call(server.url, "POST", "/api/v1/checkout", {
      cookie: buyer.cookie,
      body: { packageId: starter.id },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    // Such a key is refused since (auto-topup-key-prefix.test.ts): a checkout made under one before.
    await db
      .update(payments)
      .set({ idempotencyKey: `auto_topup:${randomUUID()}` })
      .where(eq(payments.id, String(started.body.paymentId)));
    const canceled = await call(server.url, "POST", `/api/v1/payments/${started.body.paymentId}/cancel`, {
      cookie: buyer.cookie,
    });
    // Today: 409 "an auto top-up's payment is not a checkout" (told apart by the key's prefix).
    expect(canceled.status, JSON.stringify(canceled.body)).toBe(200);
    expect((await paymentRow(String(started.body.paymentId))).status).toBe("canceled");
  });
});
