// Auto top-up through real HTTP and the real Stripe SDK against msw: the Checkout that saves the
// card, one off-session charge per crossing (concurrent spends, a top-up in flight), success,
// decline, 3-D Secure, the caps, three failures in a row, and the credit exactly once when the
// webhook, the charge's own answer and the worker's reconciliation race.
import { describe, expect, it } from "vitest";
import {
  ageAttempts,
  attemptsOf,
  autoTopUpOf,
  buySavingCard,
  chargedWithAnswerLost,
  eventsOf,
  expireLeases,
  grant,
  intentRequests,
  mailsOf,
  optIn,
  saverWithCard,
  spend,
} from "./auto-topup-helpers.ts";
import {
  balanceOf,
  call,
  deliver,
  failOnLoggedError,
  ledgerOf,
  pack,
  paymentRow,
  signUp,
  startStripeMock,
  startTestServer,
  stripeEnv,
  stripeEvent,
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer({ ...stripeEnv, AUTO_TOPUP_MAX_PER_DAY: "2", AUTO_TOPUP_MAX_PER_MONTH: "10" });
failOnLoggedError();
const runWorker = () => server.services.autoTopUp.runOnce();

describe("auto top-up", () => {
  it("the first Checkout after opting in saves the card (setup_future_usage off_session, a customer)", async () => {
    const saver = await saverWithCard(server, mock);
    const created = mock.requestsTo("POST", "/v1/checkout/sessions").at(-1);
    expect(created?.params["payment_intent_data[setup_future_usage]"]).toBe("off_session");
    expect(created?.params.customer).toBe(saver.customer);
    const status = await autoTopUpOf(server, saver);
    expect(status.body).toMatchObject({ enabled: true, threshold: 50, cardSaved: true, lastAttempt: null });
    // With a card saved, the next Checkout does not ask again.
    await server.services.payments.createCheckout(saver.id, (await pack("starter")).id);
    const next = mock.requestsTo("POST", "/v1/checkout/sessions").at(-1);
    expect(next?.params["payment_intent_data[setup_future_usage]"]).toBeUndefined();
  });

  it("two concurrent spends crossing the threshold: one off-session charge, credited once", async () => {
    const saver = await saverWithCard(server, mock);
    await Promise.all([spend(server, saver.id, 30), spend(server, saver.id, 30)]);
    expect(await balanceOf(saver.id)).toBe(40);
    expect(await attemptsOf(saver.id)).toHaveLength(1);
    await runWorker();
    const requests = intentRequests(mock, saver.customer);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.params).toMatchObject({
      amount: "500",
      currency: "usd",
      payment_method: saver.paymentMethod,
      off_session: "true",
      confirm: "true",
    });
    const [attempt] = await attemptsOf(saver.id);
    expect(requests[0]?.idempotencyKey).toBe(`auto_topup:${attempt?.id}`);
    expect(attempt).toMatchObject({ status: "succeeded", reason: null });
    expect(await balanceOf(saver.id)).toBe(140);
    const payment = await paymentRow(attempt?.paymentId ?? "");
    expect(payment).toMatchObject({ status: "paid", credits: 100, amountMinor: 500 });
    expect(await eventsOf(saver.id, "auto_topup.succeeded")).toEqual([
      {
        userId: saver.id,
        paymentId: payment.id,
        packageId: payment.packageId,
        credits: 100,
        amountMinor: 500,
        currency: "usd",
      },
    ]);
    // Another pass finds nothing to do.
    await runWorker();
    expect(intentRequests(mock, saver.customer)).toHaveLength(1);
  });

  it("a top-up in flight and another crossing: no second attempt", async () => {
    const saver = await saverWithCard(server, mock);
    await spend(server, saver.id, 60);
    await grant(server, saver.id, 50);
    await spend(server, saver.id, 50);
    expect(await balanceOf(saver.id)).toBe(40);
    expect(await attemptsOf(saver.id)).toHaveLength(1);
    await runWorker();
    expect(intentRequests(mock, saver.customer)).toHaveLength(1);
    expect(await balanceOf(saver.id)).toBe(140);
  });

  it("a decline: nothing credited, auto_topup.failed, a mail with a link to pay on-session", async () => {
    const saver = await saverWithCard(server, mock);
    mock.cardOutcome(saver.paymentMethod, "card_declined");
    await spend(server, saver.id, 60);
    await runWorker();
    const [attempt] = await attemptsOf(saver.id);
    expect(attempt).toMatchObject({ status: "failed", reason: "declined" });
    expect(await balanceOf(saver.id)).toBe(40);
    expect((await paymentRow(attempt?.paymentId ?? "")).status).toBe("failed");
    expect(await ledgerOf(attempt?.paymentId ?? "")).toEqual([]);
    const starter = await pack("starter");
    expect(await eventsOf(saver.id, "auto_topup.failed")).toEqual([
      { userId: saver.id, packageId: starter.id, reason: "declined", consecutiveFailures: 1, disabled: false },
    ]);
    const sent = await mailsOf(saver.id, "auto_topup_failed");
    expect(sent).toEqual([
      {
        cause: `auto_topup_failed:${attempt?.id}`,
        data: {
          packageId: starter.id,
          payUrl: `http://localhost:3000/credits?package=${starter.id}`,
          reason: "declined",
        },
      },
    ]);
    // Stripe's payment_intent.payment_failed arriving afterwards changes nothing.
    const intent = mock.intents.get(String([...mock.intents.keys()].at(-1)));
    expect((await deliver(server.url, stripeEvent("payment_intent.payment_failed", intent ?? {}))).status).toBe(200);
    expect(await eventsOf(saver.id, "auto_topup.failed")).toHaveLength(1);
  });

  it("authentication required (3-D Secure): failed with that reason, mailed", async () => {
    const saver = await saverWithCard(server, mock);
    mock.cardOutcome(saver.paymentMethod, "authentication_required");
    await spend(server, saver.id, 60);
    await runWorker();
    expect(await attemptsOf(saver.id)).toMatchObject([{ status: "failed", reason: "authentication_required" }]);
    expect(await eventsOf(saver.id, "auto_topup.failed")).toMatchObject([{ reason: "authentication_required" }]);
    expect(await mailsOf(saver.id, "auto_topup_failed")).toHaveLength(1);
    expect(await balanceOf(saver.id)).toBe(40);
  });

  it("three failures in a row turn auto top-up off, and /account is told", async () => {
    const saver = await saverWithCard(server, mock);
    mock.cardOutcome(saver.paymentMethod, "card_declined");
    for (let i = 0; i < 3; i++) {
      await spend(server, saver.id, 60);
      await runWorker();
      await grant(server, saver.id, 60);
      // Three declines in one day would meet the daily cap (2) first.
      await ageAttempts(saver.id);
    }
    expect(await eventsOf(saver.id, "auto_topup.failed")).toMatchObject([
      { consecutiveFailures: 1, disabled: false },
      { consecutiveFailures: 2, disabled: false },
      { consecutiveFailures: 3, disabled: true },
    ]);
    const status = await autoTopUpOf(server, saver);
    expect(status.body).toMatchObject({ enabled: false, consecutiveFailures: 3, cardSaved: true });
    expect(status.body.disabledReason).toMatch(/3 failed top-ups in a row/);
    // A fourth crossing charges nothing.
    await spend(server, saver.id, 60);
    expect(await attemptsOf(saver.id)).toHaveLength(3);
    // Turning it on again clears the count.
    const again = await optIn(server, saver, { enabled: true, threshold: 50, packageId: (await pack("starter")).id });
    expect(again.body).toMatchObject({ enabled: true, consecutiveFailures: 0, disabledReason: null });
    await grant(server, saver.id, 60);
    await spend(server, saver.id, 60);
    await runWorker();
    expect((await autoTopUpOf(server, saver)).body).toMatchObject({ enabled: true, consecutiveFailures: 1 });
    // A new card (saved by the next Checkout) clears it too; the same card again does not.
    await buySavingCard(server, mock, saver.id, saver.paymentMethod);
    expect((await autoTopUpOf(server, saver)).body).toMatchObject({ consecutiveFailures: 1 });
    await buySavingCard(server, mock, saver.id, "pm_a_new_card");
    expect((await autoTopUpOf(server, saver)).body).toMatchObject({ consecutiveFailures: 0, cardSaved: true });
  });

  it("a success resets the failures in a row", async () => {
    const saver = await saverWithCard(server, mock);
    mock.cardOutcome(saver.paymentMethod, "card_declined");
    await spend(server, saver.id, 60);
    await runWorker();
    mock.cardOutcome(saver.paymentMethod, "succeeded");
    await grant(server, saver.id, 60);
    await spend(server, saver.id, 60);
    await runWorker();
    expect((await autoTopUpOf(server, saver)).body).toMatchObject({ enabled: true, consecutiveFailures: 0 });
  });

  it("the caps: past AUTO_TOPUP_MAX_PER_DAY a crossing charges nothing (cap_reached)", async () => {
    const saver = await saverWithCard(server, mock);
    // 100 → 40 (crossing), topped up to 140 → 40 (crossing), topped up to 140 → 40 (crossing).
    for (const amount of [60, 100, 100]) {
      await spend(server, saver.id, amount);
      await runWorker();
    }
    expect(await balanceOf(saver.id)).toBe(40);
    expect(intentRequests(mock, saver.customer)).toHaveLength(2);
    expect((await attemptsOf(saver.id)).map((a) => [a.status, a.reason])).toEqual([
      ["succeeded", null],
      ["succeeded", null],
      ["skipped", "cap_reached"],
    ]);
    expect(await eventsOf(saver.id, "auto_topup.failed")).toMatchObject([
      { reason: "cap_reached", consecutiveFailures: 0, disabled: false },
    ]);
    expect(await mailsOf(saver.id, "auto_topup_failed")).toEqual([]);
  });

  it("credited exactly once when the webhook arrives before the charge's answer", async () => {
    const saver = await saverWithCard(server, mock);
    mock.beforeIntentAnswer(async (intent) => {
      expect((await deliver(server.url, stripeEvent("payment_intent.succeeded", intent))).status).toBe(200);
      return undefined;
    });
    try {
      await spend(server, saver.id, 60);
      await runWorker();
    } finally {
      mock.beforeIntentAnswer(null);
    }
    const [attempt] = await attemptsOf(saver.id);
    expect(attempt?.status).toBe("succeeded");
    expect(await ledgerOf(attempt?.paymentId ?? "")).toEqual([{ kind: "purchase", amount: 100, balanceAfter: 140 }]);
    expect(await eventsOf(saver.id, "auto_topup.succeeded")).toHaveLength(1);
  });

  it("an answer lost: the webhook twice and the worker's reconciliation race, credited once", async () => {
    const { saver, charged, paymentId } = await chargedWithAnswerLost(server, mock);
    await expireLeases(saver.id);
    const event = stripeEvent("payment_intent.succeeded", charged);
    const replies = await Promise.all([deliver(server.url, event), runWorker(), deliver(server.url, event)]);
    expect([replies[0]?.status, replies[2]?.status]).toEqual([200, 200]);
    expect(await ledgerOf(paymentId)).toEqual([{ kind: "purchase", amount: 100, balanceAfter: 140 }]);
    expect(await attemptsOf(saver.id)).toMatchObject([{ status: "succeeded" }]);
    expect(await eventsOf(saver.id, "auto_topup.succeeded")).toHaveLength(1);
    // Whatever asked Stripe again did so under the attempt's one key: one PaymentIntent.
    expect(new Set(intentRequests(mock, saver.customer).map((r) => r.idempotencyKey)).size).toBe(1);
    expect(mock.intents.size).toBeGreaterThan(0);
  });

  it("no card, or opted out: a crossing writes no attempt", async () => {
    const user = await signUp(server.url, "nocard");
    const starter = await pack("starter");
    expect((await optIn(server, user, { enabled: true, threshold: 50, packageId: starter.id })).status).toBe(200);
    await grant(server, user.id, 100);
    await spend(server, user.id, 60);
    expect(await attemptsOf(user.id)).toEqual([]);
    const saver = await saverWithCard(server, mock);
    await optIn(server, saver, { enabled: false, threshold: 50, packageId: starter.id });
    await spend(server, saver.id, 60);
    expect(await attemptsOf(saver.id)).toEqual([]);
  });

  it("hostile inputs to PUT /me/auto-topup are refused and change nothing", async () => {
    const user = await signUp(server.url, "hostile");
    const starter = (await pack("starter")).id;
    const bodies: unknown[] = [
      { enabled: true, threshold: 50, packageId: "x\u0000y" },
      { enabled: true, threshold: 50, packageId: "\u202e../../admin" },
      { enabled: true, threshold: 0, packageId: starter },
      { enabled: true, threshold: -5, packageId: starter },
      { enabled: true, threshold: 1e12, packageId: starter },
      { enabled: true, threshold: 1.5, packageId: starter },
      { enabled: "yes", threshold: 50, packageId: starter },
      { enabled: true, threshold: "50", packageId: starter },
      { enabled: true, threshold: 50, packageId: starter, extra: 1 },
      { enabled: true, threshold: 50 },
      [],
      "on",
    ];
    for (const body of bodies) {
      const reply = await optIn(server, user, body as Record<string, unknown>);
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.body.error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
    }
    const huge = await optIn(server, user, { enabled: true, threshold: 50, packageId: "a".repeat(200_000) });
    expect([400, 413]).toContain(huge.status);
    const unknown = await optIn(server, user, { enabled: true, threshold: 50, packageId: crypto.randomUUID() });
    expect(unknown.status).toBe(404);
    expect((await autoTopUpOf(server, user)).body).toMatchObject({ enabled: false, threshold: null, packageId: null });
    expect((await call(server.url, "GET", "/api/v1/me/auto-topup")).status).toBe(401);
  });
});
