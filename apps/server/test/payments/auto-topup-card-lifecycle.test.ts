// Issue 16 review, the saved card's lifecycle (msw Stripe, the real SDK): a lost
// payment_intent.succeeded no longer leaves an opted-in buyer without the card a Checkout saved
// (checkout.session.completed, or reconciliation crediting the session, reads the session's
// PaymentIntent), and a card the user removed is never saved again by a late event or repair.
import { captureLogs } from "@credits/observability";
import { describe, expect, it } from "vitest";
import { autoTopUpOf, intentRequests, optIn, savedCardIntent, spend } from "./auto-topup-helpers.ts";
import {
  balanceOf,
  deliver,
  failOnLoggedError,
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
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
failOnLoggedError();

const removeCard = (user: { id: string }) => server.services.autoTopUp.removeCard(user.id, null);

// An opted-in buyer's Checkout of the starter pack, paid at Stripe with the card saved: its
// PaymentIntent as Stripe holds it (GET /v1/payment_intents/:id answers it), no event delivered yet.
async function paidSavingCard() {
  const user = await signUp(server.url, "lifecycle");
  const starter = await pack("starter");
  expect((await optIn(server, user, { enabled: true, threshold: 50, packageId: starter.id })).status).toBe(200);
  const purchase = await startPurchase(server, "starter", user.id);
  const customer = String((mock.sessions.get(purchase.sessionId) as StripeJson).customer);
  const paymentMethod = randomStripeId("pm");
  const intent = {
    ...savedCardIntent({ paymentId: purchase.paymentId, userId: user.id, customer, paymentMethod }),
    id: purchase.paymentIntent,
  };
  mock.intents.set(purchase.paymentIntent, intent);
  return { user, purchase, customer, paymentMethod, intent };
}

const cardSaved = async (user: { cookie: string }) => (await autoTopUpOf(server, user)).body.cardSaved;

const paidSession = (purchase: Purchase) => ({
  ...(mock.sessions.get(purchase.sessionId) as StripeJson),
  status: "complete",
  payment_status: "paid",
  payment_intent: purchase.paymentIntent,
});

describe("the card a Checkout saved, when its payment_intent.succeeded is lost", () => {
  it("checkout.session.completed saves it from the session's PaymentIntent; the next top-up charges it", async () => {
    const { user, purchase, customer, paymentMethod } = await paidSavingCard();
    expect((await deliver(server.url, purchaseEvents(mock, purchase).completed())).status).toBe(200);
    expect(await cardSaved(user)).toBe(true);

    await spend(server, user.id, 60);
    await server.services.autoTopUp.runOnce();
    expect(intentRequests(mock, customer).map((r) => r.params.payment_method)).toEqual([paymentMethod]);
  });

  it("reconciliation crediting the session (both events lost) saves it too", async () => {
    const { user, purchase } = await paidSavingCard();
    mock.seedCheckoutSessions([paidSession(purchase)]);
    const run = await server.services.reconciliation.run({ trigger: "manual" });
    expect(run?.status).toBe("succeeded");
    expect(await cardSaved(user)).toBe(true);
  });
});

// F2: the session's PaymentIntent cannot be read while Stripe is down. The event is answered as
// the documented retryable outcome (503 UNAVAILABLE with Retry-After, a warning, no
// error), nothing is credited, and Stripe's redelivery credits it once and saves the card.
describe("checkout.session.completed while Stripe cannot be read", () => {
  it("503 and a warning; the redelivery credits it once and saves the card", async () => {
    const { user, purchase } = await paidSavingCard();
    const completed = purchaseEvents(mock, purchase).completed();
    const logs = captureLogs("warn");
    mock.failWith("500");
    let reply: Awaited<ReturnType<typeof deliver>>;
    try {
      reply = await deliver(server.url, completed);
    } finally {
      mock.failWith(null);
      logs.stop();
    }
    expect(reply.status).toBe(503);
    expect(reply.body).toMatchObject({ error: { code: "UNAVAILABLE" } });
    expect(reply.headers.get("retry-after")).toBe("60");
    const warned = logs.entries().filter((entry) => entry.level === "warn" || entry.level === 40);
    expect(warned.map((entry) => entry.msg)).toContain(
      "stripe webhook: the payment provider is unreachable, not handled yet",
    );
    expect(await balanceOf(user.id)).toBe(0);

    expect((await deliver(server.url, completed)).status).toBe(200);
    expect((await deliver(server.url, completed)).status).toBe(200);
    expect(await balanceOf(user.id)).toBe(purchase.credits);
    expect(await cardSaved(user)).toBe(true);
  });
});

describe("removal wins over a late event", () => {
  it("a payment_intent.succeeded arriving after the user removed the card does not save it again", async () => {
    const { user, purchase, intent } = await paidSavingCard();
    expect((await deliver(server.url, purchaseEvents(mock, purchase).completed())).status).toBe(200);
    expect(await cardSaved(user)).toBe(true);
    await removeCard(user);
    // The user opts in again, waiting for a new Checkout's card.
    const starter = await pack("starter");
    expect((await optIn(server, user, { enabled: true, threshold: 50, packageId: starter.id })).status).toBe(200);

    expect((await deliver(server.url, stripeEvent("payment_intent.succeeded", intent))).status).toBe(200);
    expect(await autoTopUpOf(server, user)).toMatchObject({ body: { enabled: true, cardSaved: false } });
  });

  it("nor does checkout.session.completed of a Checkout started before the removal", async () => {
    const first = await paidSavingCard();
    expect((await deliver(server.url, purchaseEvents(mock, first.purchase).completed())).status).toBe(200);
    // A second Checkout started while the card was saved, paid after the card was removed.
    const second = await startPurchase(server, "starter", first.user.id);
    mock.intents.set(second.paymentIntent, {
      ...first.intent,
      id: second.paymentIntent,
      metadata: { paymentId: second.paymentId, userId: first.user.id },
    });
    await removeCard(first.user);
    const starter = await pack("starter");
    await optIn(server, first.user, { enabled: true, threshold: 50, packageId: starter.id });

    expect((await deliver(server.url, purchaseEvents(mock, second).completed())).status).toBe(200);
    expect(await cardSaved(first.user)).toBe(false);
  });
});
