// Hostile review 6 (auto top-up): refunds and disputes, caps, cancel, the idempotency window, currency.
import { randomUUID } from "node:crypto";
import { DISPUTE_DISABLED_REASON } from "@credits/core";
import { autoTopUpAttempts, autoTopUpCardsToDetach, payments } from "@credits/db/schema";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  attemptsOf,
  autoTopUpOf,
  chargedWithAnswerLost,
  expireLeases,
  grant,
  intentRequests,
  optIn,
  savedCardIntent,
  saverWithCard,
  spend,
} from "./auto-topup-helpers.ts";
import {
  balanceOf,
  call,
  db,
  deliver,
  failOnLoggedError,
  pack,
  paymentRow,
  purchaseEvents,
  type StripeJson,
  signUp,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
  stripeEvent,
} from "./helpers.ts";
import { createAdmin } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer({ ...stripeEnv, AUTO_TOPUP_MAX_PER_DAY: "2", AUTO_TOPUP_MAX_PER_MONTH: "10" });
failOnLoggedError();

// Opted in (threshold 50, starter), bought starter (100 credits) with the card saved.
async function buyerWithSavedCard() {
  const user = await signUp(server.url, "review6");
  const starter = await pack("starter");
  expect((await optIn(server, user, { enabled: true, threshold: 50, packageId: starter.id })).status).toBe(200);
  const purchase = await startPurchase(server, "starter", user.id);
  const events = purchaseEvents(mock, purchase);
  expect((await deliver(server.url, events.completed())).status).toBe(200);
  const session = mock.sessions.get(purchase.sessionId) as StripeJson;
  const customer = String(session.customer);
  const intent = savedCardIntent({
    paymentId: purchase.paymentId,
    userId: user.id,
    customer,
    paymentMethod: "pm_review6_card",
  });
  expect((await deliver(server.url, stripeEvent("payment_intent.succeeded", intent))).status).toBe(200);
  expect(await balanceOf(user.id)).toBe(100);
  return { user, events, customer };
}

describe("review6 F1: a clawback is not a spend", () => {
  it("a full refund of the purchase does not buy the pack again with the saved card", async () => {
    const { user, events, customer } = await buyerWithSavedCard();
    expect((await deliver(server.url, events.refunded(500))).status).toBe(200);
    expect(await balanceOf(user.id)).toBe(0);
    await server.services.autoTopUp.runOnce();
    // Today: one attempt, one off-session PaymentIntent, 100 credits back: the refund is undone.
    expect(intentRequests(mock, customer)).toHaveLength(0);
    expect(await attemptsOf(user.id)).toHaveLength(0);
  });

  it("a dispute does not charge the disputing card again", async () => {
    const { user, events, customer } = await buyerWithSavedCard();
    expect((await deliver(server.url, events.disputeCreated())).status).toBe(200);
    expect(await balanceOf(user.id)).toBe(0);
    await server.services.autoTopUp.runOnce();
    expect(intentRequests(mock, customer)).toHaveLength(0);
    expect(await attemptsOf(user.id)).toHaveLength(0);
    // The disputing card is forgotten and auto top-up is off, and /account says why.
    expect((await autoTopUpOf(server, user)).body).toMatchObject({
      enabled: false,
      cardSaved: false,
      disabledReason: DISPUTE_DISABLED_REASON,
    });
  });

  it("an admin debit below the threshold is not a spend; a hold that crosses it is", async () => {
    const { user, customer } = await buyerWithSavedCard();
    const admin = await createAdmin(server);
    const debit = await call(server.url, "POST", "/api/v1/admin/adjust", {
      cookie: admin.cookie,
      body: { userId: user.id, amount: -60, reason: "correction", idempotencyKey: randomUUID() },
    });
    expect(debit.status, JSON.stringify(debit.body)).toBe(200);
    await server.services.autoTopUp.runOnce();
    expect(await attemptsOf(user.id)).toHaveLength(0);
    await grant(server, user.id, 60);
    await server.services.credits.hold({
      userId: user.id,
      amount: 60,
      idempotencyKey: randomUUID(),
      scope: { kind: "user", id: user.id },
    });
    await server.services.autoTopUp.runOnce();
    expect(intentRequests(mock, customer)).toHaveLength(1);
  });
});

describe("review6 F2: declines are not capped, and any PUT resets the three-failures rule", () => {
  it("a declining card is charged off-session at most perDay (2) times a day", async () => {
    const saver = await saverWithCard(server, mock);
    mock.cardOutcome(saver.paymentMethod, "card_declined");
    const starter = await pack("starter");
    for (let round = 0; round < 5; round += 1) {
      // The user sets the threshold to the balance (PUT turns it "on" again: failures reset to 0)...
      const balance = await balanceOf(saver.id);
      expect((await optIn(server, saver, { enabled: true, threshold: balance, packageId: starter.id })).status).toBe(
        200,
      );
      // ...and spends one credit: a new crossing, a new off-session charge of the declining card.
      await spend(server, saver.id, 1);
      await server.services.autoTopUp.runOnce();
    }
    // Today: 5 declined off-session PaymentIntents in one day (caps count only processing and
    // succeeded attempts; ADR 019 says "attempts that reached the provider"), and the failure
    // count never reaches 3.
    expect(intentRequests(mock, saver.customer).length).toBeLessThanOrEqual(2);
    // Two declines in a row, still counted: the PUTs while it was on reset nothing.
    expect((await autoTopUpOf(server, saver)).body).toMatchObject({ enabled: true, consecutiveFailures: 2 });
  });
});

describe("review6 F4: an auto top-up's payment is not a checkout the user can cancel", () => {
  it("POST /payments/{id}/cancel on an auto top-up in flight is refused; the charge is not flagged 'paid after cancel'", async () => {
    const saver = await saverWithCard(server, mock);
    let canceled: { status: number; code?: string } = { status: 0 };
    // While Stripe is charging the card (the payment row exists, the answer has not come back),
    // the user cancels the payment by id (it is listed in GET /me/auto-topup as lastAttempt.paymentId).
    mock.beforeIntentAnswer(async (intent) => {
      const paymentId = String((intent.metadata as Record<string, string>).paymentId);
      const reply = await call(server.url, "POST", `/api/v1/payments/${paymentId}/cancel`, { cookie: saver.cookie });
      canceled = { status: reply.status, code: reply.body?.error?.code };
      return undefined;
    });
    try {
      await spend(server, saver.id, 60);
      await server.services.autoTopUp.runOnce();
    } finally {
      mock.beforeIntentAnswer(null);
    }
    const [attempt] = await attemptsOf(saver.id);
    const payment = await paymentRow(attempt?.paymentId ?? "");
    // Today: the cancel answers 200 "canceled", the card is charged all the same, and the payment
    // is credited and flagged "paid after its checkout was canceled: check with the customer".
    expect(payment.reviewReason).toBeNull();
    expect(payment.creditedAt).not.toBeNull();
    expect(canceled).toMatchObject({ status: 409, code: "INVALID_STATE" });
  });
});

describe("review6 F6: an off-session create is never re-sent after Stripe forgot its idempotency key", () => {
  it("an attempt whose answer was lost a day ago is not charged again under a pruned key", async () => {
    // Stripe charges, every answer is lost (the SDK's retries too): the attempt stays processing.
    const { saver } = await chargedWithAnswerLost(server, mock);
    const [attempt] = await attemptsOf(saver.id);
    expect(attempt?.status).toBe("processing");
    // The worker was off for a day (AUTO_TOPUP_WORKER_ENABLED=false during an incident, or every
    // instance down): Stripe prunes idempotency keys after 24 hours.
    await db
      .update(autoTopUpAttempts)
      .set({ createdAt: sql`now() - interval '25 hours'`, updatedAt: sql`now() - interval '25 hours'` })
      .where(eq(autoTopUpAttempts.id, attempt?.id ?? ""));
    await db
      .update(payments)
      .set({ createdAt: sql`now() - interval '25 hours'` })
      .where(eq(payments.id, attempt?.paymentId ?? ""));
    await expireLeases(saver.id);
    const sent = intentRequests(mock, saver.customer).length;
    await server.services.autoTopUp.runOnce();
    // Today: paymentIntents.create is sent again under auto_topup:<attempt>; on real Stripe, with
    // the key pruned, that is a NEW PaymentIntent: the card is charged twice, credited once.
    // (Refunds guard exactly this: refunds.ts assertKeyRemembered.)
    expect(intentRequests(mock, saver.customer).length).toBe(sent);
    // Failed, and the payment is left for a person to look the PaymentIntent up at Stripe.
    expect((await attemptsOf(saver.id)).map((a) => [a.status, a.reason])).toEqual([["failed", "provider_error"]]);
    expect((await paymentRow(attempt?.paymentId ?? "")).reviewReason).toMatch(/metadata paymentId/);
  });
});

describe("review6 F9: erasure and the saved card", () => {
  it("erasure forgets the card on the user's attempts too", async () => {
    const saver = await saverWithCard(server, mock);
    await spend(server, saver.id, 60);
    await server.services.autoTopUp.runOnce();
    expect((await attemptsOf(saver.id)).map((a) => a.paymentMethodId)).toEqual([saver.paymentMethod]);
    const admin = await createAdmin(server);
    const erased = await call(server.url, "POST", `/api/v1/admin/users/${saver.id}/erase`, {
      cookie: admin.cookie,
      body: { reason: "GDPR request" },
    });
    expect(erased.status, JSON.stringify(erased.body)).toBe(200);
    expect((await attemptsOf(saver.id)).map((a) => a.paymentMethodId)).toEqual([null]);
  });

  it("erasure forgets a disputed card still waiting for its detach (review10)", async () => {
    const { user, events } = await buyerWithSavedCard();
    expect((await deliver(server.url, events.disputeCreated())).status).toBe(200);
    const waiting = () => db.$count(autoTopUpCardsToDetach, eq(autoTopUpCardsToDetach.userId, user.id));
    expect(await waiting()).toBe(1);
    const admin = await createAdmin(server);
    const erased = await call(server.url, "POST", `/api/v1/admin/users/${user.id}/erase`, {
      cookie: admin.cookie,
      body: { reason: "GDPR request" },
    });
    expect(erased.status, JSON.stringify(erased.body)).toBe(200);
    expect(await waiting()).toBe(0);
  });
});

describe("review7: an attempt in flight follows the settings until Stripe knows of its charge", () => {
  it("turned off while its first create was unanswered: the worker does not charge the card", async () => {
    const saver = await saverWithCard(server, mock);
    mock.failWith("500");
    try {
      await spend(server, saver.id, 60);
      await server.services.autoTopUp.runOnce();
    } finally {
      mock.failWith(null);
    }
    const [attempt] = await attemptsOf(saver.id);
    expect(attempt?.status).toBe("processing");
    const starter = await pack("starter");
    expect((await optIn(server, saver, { enabled: false, threshold: 50, packageId: starter.id })).status).toBe(200);
    await expireLeases(saver.id);
    const sent = intentRequests(mock, saver.customer).length;
    await server.services.autoTopUp.runOnce();
    expect(intentRequests(mock, saver.customer).length).toBe(sent);
    expect((await attemptsOf(saver.id)).map((a) => a.status)).not.toContain("processing");
    expect(await balanceOf(saver.id)).toBe(40);
  });
});
