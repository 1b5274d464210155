// Review F9a: a user removes the card a Checkout saved for auto top-up. Auto top-up goes off, the
// PaymentMethod is detached at Stripe (once, whatever is retried), and the removal is audited.
import { adminActions } from "@credits/db/schema";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { attemptsOf, autoTopUpOf, intentRequests, optIn, saverWithCard, spend } from "./auto-topup-helpers.ts";
import {
  balanceOf,
  call,
  db,
  failOnLoggedError,
  pack,
  signUp,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
failOnLoggedError();

const removeCard = (user: { cookie: string }) =>
  call(server.url, "DELETE", "/api/v1/me/auto-topup/payment-method", { cookie: user.cookie });
const detaches = (paymentMethod: string) => mock.requestsTo("POST", `/v1/payment_methods/${paymentMethod}/detach`);
const removals = (userId: string) =>
  db
    .select({ actorId: adminActions.actorId, detail: adminActions.detail })
    .from(adminActions)
    .where(and(eq(adminActions.targetUserId, userId), eq(adminActions.action, "auto_topup.card_removed")));

describe("F9a: removing the saved card", () => {
  it("turns auto top-up off, detaches the card once and audits it; a retry changes nothing", async () => {
    const saver = await saverWithCard(server, mock);
    const removed = await removeCard(saver);
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(removed.body).toMatchObject({ enabled: false, cardSaved: false, disabledReason: null });
    expect(detaches(saver.paymentMethod)).toHaveLength(1);
    expect(await removals(saver.id)).toEqual([{ actorId: saver.id, detail: { via: "user" } }]);

    const again = await removeCard(saver);
    expect(again.status).toBe(200);
    expect(detaches(saver.paymentMethod)).toHaveLength(1);
    expect(await removals(saver.id)).toHaveLength(1);

    // A spend below the threshold now charges nothing.
    await spend(server, saver.id, 60);
    await server.services.autoTopUp.runOnce();
    expect(intentRequests(mock, saver.customer)).toHaveLength(0);
    expect(await balanceOf(saver.id)).toBe(40);
  });

  it("an attempt waiting for the worker is skipped, not charged to the removed card", async () => {
    const saver = await saverWithCard(server, mock);
    await spend(server, saver.id, 60);
    expect((await attemptsOf(saver.id)).map((a) => a.status)).toEqual(["pending"]);
    expect((await removeCard(saver)).status).toBe(200);
    await server.services.autoTopUp.runOnce();
    expect(intentRequests(mock, saver.customer)).toHaveLength(0);
    expect((await attemptsOf(saver.id)).map((a) => [a.status, a.reason])).toEqual([["skipped", "disabled"]]);
  });

  it("Stripe down: auto top-up is off at once, the card kept until a retry detaches it", async () => {
    const saver = await saverWithCard(server, mock);
    mock.failWith("500");
    let failed: Awaited<ReturnType<typeof removeCard>>;
    try {
      failed = await removeCard(saver);
    } finally {
      mock.failWith(null);
    }
    expect(failed.status).toBe(503);
    expect((await autoTopUpOf(server, saver)).body).toMatchObject({ enabled: false, cardSaved: true });
    expect(await removals(saver.id)).toHaveLength(0);
    await spend(server, saver.id, 60);
    await server.services.autoTopUp.runOnce();
    expect(intentRequests(mock, saver.customer)).toHaveLength(0);

    expect((await removeCard(saver)).body).toMatchObject({ enabled: false, cardSaved: false });
    expect(await removals(saver.id)).toHaveLength(1);
  });

  it("a card already detached at Stripe (the dashboard) is forgotten all the same", async () => {
    const saver = await saverWithCard(server, mock);
    mock.detachedPaymentMethods.add(saver.paymentMethod);
    const removed = await removeCard(saver);
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(removed.body).toMatchObject({ cardSaved: false });
  });

  it("is the same operation on /trpc", async () => {
    const saver = await saverWithCard(server, mock);
    const removed = await call(server.url, "POST", "/trpc/autoTopUp.removeCard", {
      cookie: saver.cookie,
      headers: { "content-type": "application/json" },
    });
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(detaches(saver.paymentMethod)).toHaveLength(1);
    expect((await autoTopUpOf(server, saver)).body).toMatchObject({ enabled: false, cardSaved: false });
  });

  it("a user who never saved a card: 200, nothing detached or audited", async () => {
    const user = await signUp(server.url, "nocard");
    const removed = await removeCard(user);
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(removed.body).toMatchObject({ enabled: false, cardSaved: false });
    expect(await removals(user.id)).toHaveLength(0);
  });

  it("an opt-in still waiting for its first Checkout to save a card is kept: there is no card to remove", async () => {
    const user = await signUp(server.url, "waiting");
    const standard = await pack("standard");
    expect((await optIn(server, user, { enabled: true, threshold: 50, packageId: standard.id })).status).toBe(200);
    const removed = await removeCard(user);
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(removed.body).toMatchObject({ enabled: true, cardSaved: false });
    expect(await removals(user.id)).toHaveLength(0);
  });
});
