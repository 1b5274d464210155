// Canceled checkouts through real HTTP: the cancel page's call expires the Stripe session (msw)
// and closes the payment as canceled, once, for its owner only; a session paid before it could be
// canceled is credited instead; a payment completed after it was canceled is credited once and
// flagged for review. The local provider does the same without Stripe.
import { randomUUID } from "node:crypto";
import { adminActions } from "@credits/db/schema";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  balanceOf,
  call,
  db,
  deliver,
  failOnLoggedError,
  ledgerOf,
  pack,
  paymentRow,
  randomStripeId,
  sessionEvent,
  sessionIdOf,
  signUp,
  startStripeMock,
  startTestServer,
  stripeEnv,
  type TestUser,
  transitionsOf,
} from "./helpers.ts";
import { createAdmin } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
// Same database, no Stripe key: the local provider and its checkout page.
const local = await startTestServer();
failOnLoggedError();

async function checkout(user: TestUser, base = server.url) {
  const standard = await pack("standard");
  const reply = await call(base, "POST", "/api/v1/checkout", { cookie: user.cookie, body: { packageId: standard.id } });
  expect(reply.status, JSON.stringify(reply.body)).toBe(201);
  const { paymentId, checkoutUrl } = reply.body as { paymentId: string; checkoutUrl: string };
  return { paymentId, checkoutUrl, sessionId: sessionIdOf(checkoutUrl), credits: standard.credits };
}

const cancel = (user: TestUser, paymentId: string, base = server.url) =>
  call(base, "POST", `/api/v1/payments/${paymentId}/cancel`, { cookie: user.cookie });

const expireRequests = (sessionId: string) => mock.requestsTo("POST", `/v1/checkout/sessions/${sessionId}/expire`);

const paidAfterCancelAudit = (paymentId: string) =>
  db
    .select({ action: adminActions.action, actorId: adminActions.actorId, targetUserId: adminActions.targetUserId })
    .from(adminActions)
    .where(sql`${adminActions.detail}->>'paymentId' = ${paymentId}`);

describe("canceling a Stripe checkout", () => {
  it("expires the session at Stripe and closes the payment as canceled; a second cancel asks Stripe nothing", async () => {
    const user = await signUp(server.url);
    const started = await checkout(user);
    const reply = await cancel(user, started.paymentId);
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(reply.body).toMatchObject({
      id: started.paymentId,
      status: "canceled",
      credited: false,
      underReview: false,
    });
    expect(expireRequests(started.sessionId)).toHaveLength(1);
    expect(mock.sessions.get(started.sessionId)).toMatchObject({ status: "expired" });
    expect(await transitionsOf(started.paymentId)).toEqual([
      { from: "created", to: "canceled", source: "cancel_page" },
    ]);

    const again = await cancel(user, started.paymentId);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(reply.body);
    expect(expireRequests(started.sessionId)).toHaveLength(1);

    // Stripe's checkout.session.expired that follows changes nothing.
    const expired = await deliver(server.url, sessionEvent(mock, started.sessionId, "checkout.session.expired"));
    expect(expired.status).toBe(200);
    expect(await transitionsOf(started.paymentId)).toHaveLength(1);
    // A canceled checkout is not offered again.
    const retried = await call(server.url, "GET", `/api/v1/payments/${started.paymentId}`, { cookie: user.cookie });
    expect(retried.body.status).toBe("canceled");
  });

  it("only the payment's owner can cancel it: anyone else gets a 404 and nothing changes", async () => {
    const owner = await signUp(server.url);
    const other = await signUp(server.url, "other");
    const started = await checkout(owner);
    const reply = await cancel(other, started.paymentId);
    expect(reply.status).toBe(404);
    expect(reply.body).toEqual({ error: { code: "NOT_FOUND", message: expect.any(String) } });
    const unknown = await cancel(owner, randomUUID());
    expect(unknown.status).toBe(404);
    const hostile = await call(server.url, "POST", "/api/v1/payments/not-a-uuid%00/cancel", { cookie: owner.cookie });
    expect(hostile.status).toBe(400);
    const anonymous = await call(server.url, "POST", `/api/v1/payments/${started.paymentId}/cancel`);
    expect(anonymous.status).toBe(401);
    expect(expireRequests(started.sessionId)).toHaveLength(0);
    expect(await paymentRow(started.paymentId)).toMatchObject({ status: "created" });
  });

  it("a session Stripe already completed cannot be expired: the refusal is handled and the payment is paid, once", async () => {
    const user = await signUp(server.url);
    const started = await checkout(user);
    // Paid at Stripe; the webhook has not arrived yet.
    const paymentIntent = randomStripeId("pi");
    mock.updateSession(started.sessionId, {
      status: "complete",
      payment_status: "paid",
      payment_intent: paymentIntent,
    });
    const reply = await cancel(user, started.paymentId);
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(reply.body).toMatchObject({ status: "paid", credited: true, underReview: false });
    expect(expireRequests(started.sessionId)).toHaveLength(1);
    expect(await balanceOf(user.id)).toBe(started.credits);
    expect(await transitionsOf(started.paymentId)).toEqual([{ from: "created", to: "paid", source: "cancel_page" }]);

    // The webhook that follows, and another cancel, change nothing.
    const late = sessionEvent(mock, started.sessionId, "checkout.session.completed", { paymentIntent });
    expect((await deliver(server.url, late)).status).toBe(200);
    expect((await cancel(user, started.paymentId)).body).toMatchObject({ status: "paid" });
    expect(expireRequests(started.sessionId)).toHaveLength(1);
    expect(await ledgerOf(started.paymentId)).toEqual([
      { kind: "purchase", amount: started.credits, balanceAfter: started.credits },
    ]);
  });

  it("a session completed but not yet paid (a delayed payment method) stays pending", async () => {
    const user = await signUp(server.url);
    const started = await checkout(user);
    mock.updateSession(started.sessionId, { status: "complete", payment_status: "unpaid", payment_intent: null });
    const reply = await cancel(user, started.paymentId);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ status: "created", credited: false });
    expect(await balanceOf(user.id)).toBe(0);
  });

  it("checkout.session.completed after the cancel still credits (the customer paid), once, and flags the payment", async () => {
    const user = await signUp(server.url);
    const started = await checkout(user);
    expect((await cancel(user, started.paymentId)).body.status).toBe("canceled");
    const paymentIntent = randomStripeId("pi");
    const completed = sessionEvent(mock, started.sessionId, "checkout.session.completed", { paymentIntent });
    expect((await deliver(server.url, completed)).status).toBe(200);
    expect((await deliver(server.url, completed)).status).toBe(200);
    const again = sessionEvent(mock, started.sessionId, "checkout.session.completed", { paymentIntent });
    expect((await deliver(server.url, again)).status).toBe(200);

    expect(await balanceOf(user.id)).toBe(started.credits);
    expect(await ledgerOf(started.paymentId)).toHaveLength(1);
    expect((await transitionsOf(started.paymentId)).map((t) => [t.from, t.to])).toEqual([
      ["created", "canceled"],
      ["canceled", "paid"],
    ]);
    const row = await paymentRow(started.paymentId);
    expect(row).toMatchObject({
      status: "paid",
      reviewReason: expect.stringMatching(/paid after its checkout was canceled/),
    });
    expect(await paidAfterCancelAudit(started.paymentId)).toEqual([
      { action: "payment.paid_after_cancel", actorId: null, targetUserId: user.id },
    ]);
    // Visible to the owner as under review, and to admins with the reason.
    const mine = await call(server.url, "GET", `/api/v1/payments/${started.paymentId}`, { cookie: user.cookie });
    expect(mine.body).toMatchObject({ status: "paid", credited: true, underReview: true });
    const admin = await createAdmin(server);
    const view = await call(server.url, "GET", `/api/v1/admin/users/${user.id}`, { cookie: admin.cookie });
    expect(view.body.payments).toEqual([
      expect.objectContaining({ id: started.paymentId, status: "paid", reviewReason: row.reviewReason }),
    ]);
  });
});

describe("canceling a local checkout", () => {
  it("the page's Cancel button leaves the session open; the cancel page's call expires it and the payment is canceled", async () => {
    const user = await signUp(local.url);
    const started = await checkout(user, local.url);
    const path = new URL(started.checkoutUrl).pathname;
    const backedOut = await call(local.url, "POST", `${path}/cancel`);
    expect(backedOut.status).toBe(303);
    expect(backedOut.headers.get("location")).toBe(
      `http://localhost:3000/credits/cancel?payment_id=${started.paymentId}`,
    );
    expect(await paymentRow(started.paymentId)).toMatchObject({ status: "created" });

    const reply = await cancel(user, started.paymentId, local.url);
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(reply.body).toMatchObject({ status: "canceled", credited: false });
    // The local provider delivers its expired event before answering, as Stripe may.
    expect((await transitionsOf(started.paymentId)).map((t) => [t.from, t.to, t.source])).toEqual([
      ["created", "expired", expect.stringMatching(/^evt_local_/)],
      ["expired", "canceled", "cancel_page"],
    ]);
    // An expired session can no longer be paid.
    expect((await call(local.url, "POST", `${path}/pay`)).status).toBe(404);
    expect((await cancel(user, started.paymentId, local.url)).body.status).toBe("canceled");
    expect(await balanceOf(user.id)).toBe(0);
  });

  it("a paid local checkout cannot be canceled", async () => {
    const user = await signUp(local.url);
    const started = await checkout(user, local.url);
    await call(local.url, "POST", `${new URL(started.checkoutUrl).pathname}/pay`);
    const reply = await cancel(user, started.paymentId, local.url);
    expect(reply.body).toMatchObject({ status: "paid", credited: true });
    expect(await balanceOf(user.id)).toBe(started.credits);
    expect(await db.$count(adminActions, eq(adminActions.targetUserId, user.id))).toBe(0);
  });
});
