// Issue 16 review, removing the saved card (msw Stripe, the real SDK): a dispute detaches it at
// Stripe too (the worker's pass, retried while Stripe is down), a user's removal whose detach
// fails is audited all the same, and a charge that fails because the card was just removed is
// canceled (card_removed), not a failure: no mail, no auto_topup.failed, not counted.
import { DISPUTE_DISABLED_REASON, systemClock } from "@credits/core";
import { createAutoTopUpStore, createDatabase } from "@credits/db";
import { adminActions } from "@credits/db/schema";
import { asc, eq, sql } from "drizzle-orm";
import { HttpResponse } from "msw";
import { describe, expect, it, vi } from "vitest";
import {
  attemptsOf,
  autoTopUpOf,
  eventsOf,
  mailsOf,
  optIn,
  type Saver,
  savedCardIntent,
  spend,
} from "./auto-topup-helpers.ts";
import {
  db,
  deliver,
  failOnLoggedError,
  onPostgres,
  type Purchase,
  pack,
  purchaseEvents,
  randomStripeId,
  type StripeJson,
  signUp,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
  stripeEvent,
  testDb,
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
failOnLoggedError();

const detaches = (paymentMethod: string) => mock.requestsTo("POST", `/v1/payment_methods/${paymentMethod}/detach`);
const auditsOf = async (userId: string) =>
  (
    await db
      .select({ action: adminActions.action, detail: adminActions.detail })
      .from(adminActions)
      .where(eq(adminActions.targetUserId, userId))
      .orderBy(asc(adminActions.createdAt))
  ).map((row) => [row.action, (row.detail as { via?: string }).via]);

// A saver (opted in, threshold 50) whose card the starter pack's Checkout saved, with its purchase.
async function saver() {
  const user = await signUp(server.url, "races");
  const starter = await pack("starter");
  expect((await optIn(server, user, { enabled: true, threshold: 50, packageId: starter.id })).status).toBe(200);
  const purchase = await startPurchase(server, "starter", user.id);
  expect((await deliver(server.url, purchaseEvents(mock, purchase).completed())).status).toBe(200);
  const customer = String((mock.sessions.get(purchase.sessionId) as StripeJson).customer);
  const paymentMethod = randomStripeId("pm");
  const intent = savedCardIntent({ paymentId: purchase.paymentId, userId: user.id, customer, paymentMethod });
  expect((await deliver(server.url, stripeEvent("payment_intent.succeeded", intent))).status).toBe(200);
  const saved: Saver = { ...user, paymentMethod, customer };
  return { saved, purchase };
}

describe("a dispute removes the card at Stripe too", () => {
  it("forgets it in the event, detaches it at the worker's next pass, once, and audits it", async () => {
    const { saved, purchase } = await saver();
    expect((await deliver(server.url, purchaseEvents(mock, purchase).disputeCreated())).status).toBe(200);
    expect((await autoTopUpOf(server, saved)).body).toMatchObject({ enabled: false, cardSaved: false });
    await server.services.autoTopUp.runOnce();
    await server.services.autoTopUp.runOnce();
    expect(detaches(saved.paymentMethod)).toHaveLength(1);
    expect(await auditsOf(saved.id)).toEqual([["auto_topup.card_removed", "dispute"]]);
  });

  it("Stripe down: the detach is tried again at the next pass", async () => {
    const { saved, purchase } = await saver();
    expect((await deliver(server.url, purchaseEvents(mock, purchase).disputeCreated())).status).toBe(200);
    mock.failWith("500");
    try {
      await expect(server.services.autoTopUp.runOnce()).rejects.toThrow();
    } finally {
      mock.failWith(null);
    }
    expect(mock.detachedPaymentMethods.has(saved.paymentMethod)).toBe(false);
    await server.services.autoTopUp.runOnce();
    expect(mock.detachedPaymentMethods.has(saved.paymentMethod)).toBe(true);
    expect(await auditsOf(saved.id)).toEqual([["auto_topup.card_removed", "dispute"]]);
  });
});

describe("two disputed cards waiting for their detach", () => {
  // Review item 2: a second dispute, on a card saved after the first one's, before the worker's
  // pass, overwrote the first card to detach: it stayed attached at Stripe, never audited.
  it("both are detached at the next pass, each audited once", async () => {
    const { saved, purchase } = await saver();
    expect((await deliver(server.url, purchaseEvents(mock, purchase).disputeCreated())).status).toBe(200);
    const second = await startPurchase(server, "starter", saved.id);
    expect((await deliver(server.url, purchaseEvents(mock, second).completed())).status).toBe(200);
    const card = randomStripeId("pm");
    const intent = savedCardIntent({
      paymentId: second.paymentId,
      userId: saved.id,
      customer: saved.customer,
      paymentMethod: card,
    });
    expect((await deliver(server.url, stripeEvent("payment_intent.succeeded", intent))).status).toBe(200);
    expect((await autoTopUpOf(server, saved)).body).toMatchObject({ cardSaved: true });
    expect((await deliver(server.url, purchaseEvents(mock, second).disputeCreated())).status).toBe(200);

    await server.services.autoTopUp.runOnce();
    await server.services.autoTopUp.runOnce();
    expect(detaches(saved.paymentMethod)).toHaveLength(1);
    expect(detaches(card)).toHaveLength(1);
    expect(await auditsOf(saved.id)).toEqual([
      ["auto_topup.card_removed", "dispute"],
      ["auto_topup.card_removed", "dispute"],
    ]);
  });
});

describe("the user's removal, its detach failing", () => {
  it("records the turn-off and the failed detach", async () => {
    const { saved } = await saver();
    mock.failWith("500");
    try {
      expect(
        (await server.services.autoTopUp.removeCard(saved.id, null).catch((e: unknown) => e)) instanceof Error,
      ).toBe(true);
    } finally {
      mock.failWith(null);
    }
    expect(await auditsOf(saved.id)).toEqual([
      ["auto_topup.turned_off", "user"],
      ["auto_topup.card_detach_failed", "user"],
    ]);
  });
});

describe("a charge racing the card's removal", () => {
  // The user removes the card while the worker's charge is at Stripe.
  const removedDuringCharge = (saved: Saver, answer: () => Response | undefined) =>
    mock.beforeIntentAnswer(async () => {
      await server.services.autoTopUp.removeCard(saved.id, null);
      return answer();
    });

  async function expectCanceled(saved: Saver) {
    expect((await attemptsOf(saved.id)).map((a) => [a.status, a.reason])).toEqual([["skipped", "card_removed"]]);
    expect(await eventsOf(saved.id, "auto_topup.failed")).toEqual([]);
    expect(await mailsOf(saved.id, "auto_topup_failed")).toEqual([]);
    expect((await autoTopUpOf(server, saved)).body).toMatchObject({ consecutiveFailures: 0, cardSaved: false });
  }

  it("Stripe refusing the detached card: canceled because the card was removed, not a failure", async () => {
    const { saved } = await saver();
    const message =
      "The provided PaymentMethod was previously used with a PaymentIntent or was detached from a Customer.";
    removedDuringCharge(saved, () =>
      HttpResponse.json({ error: { type: "invalid_request_error", message } }, { status: 400 }),
    );
    try {
      await spend(server, saved.id, 60);
      await server.services.autoTopUp.runOnce();
    } finally {
      mock.beforeIntentAnswer(null);
    }
    await expectCanceled(saved);
  });

  it("a decline answered after the removal: canceled as well", async () => {
    const { saved } = await saver();
    mock.cardOutcome(saved.paymentMethod, "card_declined");
    removedDuringCharge(saved, () => undefined);
    try {
      await spend(server, saved.id, 60);
      await server.services.autoTopUp.runOnce();
    } finally {
      mock.beforeIntentAnswer(null);
    }
    await expectCanceled(saved);
  });
});

// F3: the removal's time is compared with payments' times, stamped by the database: an instance
// whose clock is behind the database's must not make a removal look older than a Checkout begun
// before it (which would then save its card again).
describe("the removal's time is the database's", () => {
  async function behindTheDatabase<T>(work: () => Promise<T>): Promise<T> {
    const skewed = vi.spyOn(systemClock, "now").mockImplementation(() => new Date(Date.now() - 2 * 60_000));
    try {
      return await work();
    } finally {
      skewed.mockRestore();
    }
  }

  // A Checkout begun before the removal, its card saved by its events after it.
  async function lateCheckoutSaves(saved: Saver, remove: () => Promise<unknown>) {
    const late = await startPurchase(server, "starter", saved.id);
    await behindTheDatabase(remove);
    await lateCardSaved(saved, late);
  }

  // The Checkout's events, after the removal: it completed, its PaymentIntent saving a new card.
  async function lateCardSaved(saved: Saver, late: Purchase) {
    const completed = await deliver(server.url, purchaseEvents(mock, late).completed());
    expect(completed.status).toBe(200);
    const card = randomStripeId("pm");
    const intent = savedCardIntent({
      paymentId: late.paymentId,
      userId: saved.id,
      customer: saved.customer,
      paymentMethod: card,
    });
    expect((await deliver(server.url, stripeEvent("payment_intent.succeeded", intent))).status).toBe(200);
  }

  it("a user's removal on an instance whose clock is behind: the earlier Checkout saves no card", async () => {
    const { saved } = await saver();
    await lateCheckoutSaves(saved, () => server.services.autoTopUp.removeCard(saved.id, null));
    expect((await autoTopUpOf(server, saved)).body).toMatchObject({ cardSaved: false });
  });

  // Review item 4: a dispute's transaction stamped the removal with now(), its start. A Checkout
  // begun while it ran (its profile read before the turn-off committed) looked begun after the
  // removal, and its card was saved. Two connections at once: PostgreSQL only.
  it.runIf(onPostgres)("a Checkout begun while a dispute's transaction ran saves no card", async () => {
    const { saved } = await saver();
    const dispute = createDatabase({ url: testDb.url ?? "", poolMax: 1 });
    let during: Purchase | undefined;
    try {
      await dispute.db.transaction(async (tx) => {
        await tx.execute(sql`SELECT pg_sleep(0.05)`);
        during = await startPurchase(server, "starter", saved.id);
        await createAutoTopUpStore(tx).forgetCardToDetach(saved.id, DISPUTE_DISABLED_REASON);
      });
    } finally {
      await dispute.close();
    }
    if (!during) throw new Error("no Checkout started");
    await lateCardSaved(saved, during);
    expect((await autoTopUpOf(server, saved)).body).toMatchObject({ cardSaved: false });
  });

  it("a dispute handled on an instance whose clock is behind: the earlier Checkout saves no card", async () => {
    const { saved, purchase } = await saver();
    await lateCheckoutSaves(saved, async () =>
      expect((await deliver(server.url, purchaseEvents(mock, purchase).disputeCreated())).status).toBe(200),
    );
    expect((await autoTopUpOf(server, saved)).body).toMatchObject({ cardSaved: false });
  });
});
