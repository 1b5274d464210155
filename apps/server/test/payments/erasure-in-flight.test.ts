// A payment still in flight when its user is erased never leaves money behind (erase19, ADR 025).
// The erasure expires the user's open Checkout sessions at the provider (queued in its
// transaction, retried by the worker); a payment that completes anyway (its webhook, a
// reconciliation heal, an auto top-up's charge) is credited and refunded in full, once, by the
// refund path. The real Stripe SDK talks to msw; the worker's sweep is off under NODE_ENV=test,
// so the tests run its passes.
import { adminActions, outboxEvents, processedEvents } from "@credits/db/schema";
import { and, eq, inArray, sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { chargedWithAnswerLost } from "./auto-topup-helpers.ts";
import { erasureProbes } from "./erasure-helpers.ts";
import {
  balanceOf,
  charge,
  db,
  deliver,
  ledgerOf,
  type Purchase,
  paymentRow,
  paymentsOf,
  purchaseEvents,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
  stripeEvent,
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
const { erase, tasksOf, makeDue, expiresOf, refundRequests, refundRowsOf } = erasureProbes(server, mock);
const { gdpr, reconciliation } = server.services;

const eventTypesOf = async (userId: string, paymentId: string) =>
  (
    await db
      .select({ type: outboxEvents.type })
      .from(outboxEvents)
      .where(and(eq(outboxEvents.userId, userId), sql`${outboxEvents.payload}->'data'->>'paymentId' = ${paymentId}`))
  )
    .map((row) => row.type)
    .sort();
const sumOf = (rows: { amount: number }[]) => rows.reduce((total, row) => total + row.amount, 0);

// The provider's bodies still stored that name the erased user's session, payment, charge,
// customer or email: none may (the erasure scrubbed those before it; those after it keep none).
async function storedBodiesNaming(purchase: Purchase): Promise<string[]> {
  const session = mock.sessions.get(purchase.sessionId) ?? {};
  const details = (session.customer_details ?? {}) as { email?: unknown };
  const named = [purchase.sessionId, purchase.paymentIntent, purchase.chargeId, session.customer];
  const needles = [...named, session.customer_email, details.email].filter(
    (needle): needle is string => typeof needle === "string" && needle !== "",
  );
  expect(needles).toContain(String(session.customer));
  const rows = await db
    .select({ payload: processedEvents.payload })
    .from(processedEvents)
    .where(
      sql`${processedEvents.payload} IS NOT NULL AND EXISTS (SELECT 1 FROM unnest(ARRAY[${sql.join(
        needles.map((needle) => sql`${needle}`),
        sql`, `,
      )}]::text[]) AS needle WHERE strpos(${processedEvents.payload}, needle) > 0)`,
    );
  return rows.map((row) => String(row.payload));
}

// The events were recorded (processed, so a replay is a duplicate), without their bodies.
async function expectRecordedWithoutBody(events: { id?: unknown }[]) {
  const ids = events.map((event) => String(event.id));
  const rows = await db
    .select({ status: processedEvents.status, payload: processedEvents.payload })
    .from(processedEvents)
    .where(inArray(processedEvents.id, ids));
  expect(rows).toEqual(ids.map(() => ({ status: "processed", payload: null })));
}

afterEach(() => {
  mock.failWith(null);
  mock.beforeSessionAnswer(null);
});

// A purchase whose Checkout the user pays while the erasure runs: the session is complete before
// the erasure's expiry reaches Stripe (which answers 400: too late), then its webhook arrives.
async function paidDuringErasure(): Promise<Purchase> {
  const purchase = await startPurchase(server, "starter");
  mock.updateSession(purchase.sessionId, {
    status: "complete",
    payment_status: "paid",
    payment_intent: purchase.paymentIntent,
  });
  await erase(purchase.userId);
  expect(expiresOf(purchase.sessionId)).toBe(1);
  mock.addCharge(
    charge({ id: purchase.chargeId, amount: purchase.amountMinor, payment_intent: purchase.paymentIntent }),
  );
  return purchase;
}

// The payment's credits came and went: a purchase and a clawback of the same size.
async function expectCreditedAndClawedBack(purchase: Purchase) {
  const rows = await ledgerOf(purchase.paymentId);
  expect(rows.map((row) => [row.kind, row.amount])).toEqual([
    ["purchase", purchase.credits],
    ["refund_clawback", -purchase.credits],
  ]);
  expect(sumOf(rows)).toBe(0);
}

describe("erasure expires the user's open checkouts", () => {
  it("expires an open session at the provider in the erasure, and leaves nothing queued", async () => {
    const purchase = await startPurchase(server, "starter");

    await erase(purchase.userId);

    expect(expiresOf(purchase.sessionId)).toBe(1);
    expect(mock.sessions.get(purchase.sessionId)?.status).toBe("expired");
    expect(await tasksOf(purchase.userId)).toEqual([]);
    // Stripe's checkout.session.expired, after the erasure: applied, its body (the customer) not kept.
    const expired = purchaseEvents(mock, purchase).expired();
    expect((await deliver(server.url, expired)).status).toBe(200);
    expect((await paymentRow(purchase.paymentId)).status).toBe("expired");
    await expectRecordedWithoutBody([expired]);
    expect(await storedBodiesNaming(purchase)).toEqual([]);
  });

  it("an expiry the provider failed stays queued and a later pass expires it", async () => {
    const purchase = await startPurchase(server, "starter");
    mock.failWith("500");

    expect((await erase(purchase.userId)).alreadyErased).toBe(false);

    expect(await tasksOf(purchase.userId)).toContainEqual({ kind: "expire_session", targetId: purchase.sessionId });
    expect(mock.sessions.get(purchase.sessionId)?.status).toBe("open");
    mock.failWith(null);
    await makeDue(purchase.userId);
    await gdpr.runErasureTasks();
    expect(mock.sessions.get(purchase.sessionId)?.status).toBe("expired");
    expect(await tasksOf(purchase.userId)).toEqual([]);
  });

  it("a session the provider made while its user was erased is queued for expiry, never stored; the checkout is refused", async () => {
    const first = await startPurchase(server, "starter");
    const sessionsBefore = new Set(mock.sessions.keys());
    mock.beforeSessionAnswer(async () => {
      await erase(first.userId);
    });

    await expect(startPurchase(server, "starter", first.userId)).rejects.toMatchObject({ code: "NOT_FOUND" });

    const [made] = [...mock.sessions.keys()].filter((id) => !sessionsBefore.has(id));
    expect(made).toMatch(/^cs_/);
    expect((await paymentsOf(first.userId)).map((p) => [p.status, p.providerSessionId])).toEqual([
      ["created", first.sessionId],
      ["failed", null],
    ]);
    expect(await tasksOf(first.userId)).toEqual([{ kind: "expire_session", targetId: made }]);
    await gdpr.runErasureTasks();
    expect(mock.sessions.get(made ?? "")?.status).toBe("expired");
    expect(await tasksOf(first.userId)).toEqual([]);
  });

  it("a session completed before the worker's expiry counts as done (too late: the refund path has it)", async () => {
    const purchase = await startPurchase(server, "starter");
    mock.failWith("500");
    await erase(purchase.userId);
    mock.failWith(null);
    mock.updateSession(purchase.sessionId, { status: "complete", payment_status: "paid" });
    await makeDue(purchase.userId);
    const triedBefore = expiresOf(purchase.sessionId);

    await expect(gdpr.runErasureTasks()).resolves.toMatchObject({ done: 2 });

    expect(expiresOf(purchase.sessionId)).toBe(triedBefore + 1);
    expect(await tasksOf(purchase.userId)).toEqual([]);
  });
});

describe("a payment completed after its user's erasure is refunded in full", () => {
  it("checkout.session.completed: credited, refunded once (the webhook replayed), balance 0, books balanced", async () => {
    const purchase = await paidDuringErasure();
    const completed = purchaseEvents(mock, purchase).completed();

    expect((await deliver(server.url, completed)).status).toBe(200);
    expect((await deliver(server.url, completed)).status).toBe(200);

    const [filed] = await refundRowsOf(purchase.paymentId);
    expect(filed).toMatchObject({
      origin: "erasure",
      status: "processing",
      amountMinor: purchase.amountMinor,
      requestedBy: purchase.userId,
      decidedBy: null,
      reason: expect.stringMatching(/^account erased/),
    });
    expect(await tasksOf(purchase.userId)).toEqual([{ kind: "send_refund", targetId: filed?.id }]);
    expect(refundRequests(purchase.paymentIntent)).toHaveLength(0);

    await gdpr.runErasureTasks();
    await gdpr.runErasureTasks();
    expect((await deliver(server.url, completed)).status).toBe(200);

    expect(refundRequests(purchase.paymentIntent)).toHaveLength(1);
    expect(refundRequests(purchase.paymentIntent)[0]?.params.amount).toBe(String(purchase.amountMinor));
    expect(await refundRowsOf(purchase.paymentId)).toMatchObject([{ status: "succeeded", origin: "erasure" }]);
    expect(await balanceOf(purchase.userId)).toBe(0);
    await expectCreditedAndClawedBack(purchase);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({
      status: "refunded",
      amountRefundedMinor: purchase.amountMinor,
    });
    const audit = await db
      .select({ action: adminActions.action, actorId: adminActions.actorId, reason: adminActions.reason })
      .from(adminActions)
      .where(sql`${adminActions.detail}->>'paymentId' = ${purchase.paymentId}`);
    expect(audit.filter((row) => row.action.startsWith("refund_"))).toEqual([
      { action: "refund_requested", actorId: null, reason: filed?.reason },
      { action: "refund_succeeded", actorId: null, reason: filed?.reason },
    ]);
    expect(await tasksOf(purchase.userId)).toEqual([]);
    expect(await eventTypesOf(purchase.userId, purchase.paymentId)).toEqual(["credits.purchased", "payment.refunded"]);

    // Stripe's own charge.refunded, later: the clawback already happened, nothing moves.
    const refunded = purchaseEvents(mock, purchase).refunded(purchase.amountMinor);
    expect((await deliver(server.url, refunded)).status).toBe(200);
    await expectCreditedAndClawedBack(purchase);
    await expectNoFindingFor(purchase);
    // Neither body, about a payment of an erased user, was kept.
    await expectRecordedWithoutBody([completed, refunded]);
    expect(await storedBodiesNaming(purchase)).toEqual([]);
  });

  it("a reconciliation heal of the lost webhook credits and refunds it; a second run refunds nothing more", async () => {
    const purchase = await paidDuringErasure();
    mock.seedCheckoutSessions([mock.sessions.get(purchase.sessionId) ?? {}]);

    await reconcile();
    await reconcile();
    await gdpr.runErasureTasks();

    expect(refundRequests(purchase.paymentIntent)).toHaveLength(1);
    expect(await balanceOf(purchase.userId)).toBe(0);
    await expectCreditedAndClawedBack(purchase);
    expect(await refundRowsOf(purchase.paymentId)).toMatchObject([{ status: "succeeded", origin: "erasure" }]);
  });

  it("a refund the provider failed to take is sent again by a later pass, under the same key", async () => {
    const purchase = await paidDuringErasure();
    expect((await deliver(server.url, purchaseEvents(mock, purchase).completed())).status).toBe(200);
    mock.failWith("500");

    await expect(gdpr.runErasureTasks()).rejects.toThrow(/1 refunds not sent/);

    mock.failWith(null);
    await makeDue(purchase.userId);
    await gdpr.runErasureTasks();
    const keys = new Set(refundRequests(purchase.paymentIntent).map((request) => request.idempotencyKey));
    expect(keys.size).toBe(1);
    expect(await refundRowsOf(purchase.paymentId)).toMatchObject([{ status: "succeeded" }]);
    expect(await balanceOf(purchase.userId)).toBe(0);
  });

  it("an auto top-up charged after the erasure: credited, refunded in full once, the balance as before", async () => {
    const { saver, charged, paymentId } = await chargedWithAnswerLost(server, mock);
    await erase(saver.id);
    const before = await balanceOf(saver.id);
    const intent = { ...charged, status: "succeeded", amount_received: charged.amount };
    mock.addCharge(
      charge({ id: `ch_${paymentId.slice(0, 8)}`, amount: Number(charged.amount), payment_intent: String(charged.id) }),
    );

    const succeeded = stripeEvent("payment_intent.succeeded", intent);
    expect((await deliver(server.url, succeeded)).status).toBe(200);
    expect((await deliver(server.url, succeeded)).status).toBe(200);
    await gdpr.runErasureTasks();

    expect(refundRequests(String(charged.id))).toHaveLength(1);
    expect(await balanceOf(saver.id)).toBe(before);
    const rows = await ledgerOf(paymentId);
    expect(rows.map((row) => row.kind)).toEqual(["purchase", "refund_clawback"]);
    expect(sumOf(rows)).toBe(0);
    expect(await refundRowsOf(paymentId)).toMatchObject([{ origin: "erasure", status: "succeeded" }]);
    expect(await eventTypesOf(saver.id, paymentId)).toEqual([
      "auto_topup.succeeded",
      "credits.purchased",
      "payment.refunded",
    ]);
  });
});

async function reconcile() {
  const run = await reconciliation.run({ trigger: "manual" });
  expect(run?.status, JSON.stringify(run?.stats)).toBe("succeeded");
  return run as NonNullable<typeof run>;
}

// Reconciliation, with Stripe's session and charge (refunded in full) listed, finds nothing to say
// about the payment.
async function expectNoFindingFor(purchase: Purchase) {
  mock.seedCheckoutSessions([mock.sessions.get(purchase.sessionId) ?? {}]);
  mock.seedCharges([mock.chargeOf(purchase.paymentIntent) ?? {}]);
  const run = await reconcile();
  const findings = (await reconciliation.getRun(run.id, { limit: 100 })).findings;
  expect(findings.filter((finding) => finding.paymentId === purchase.paymentId)).toEqual([]);
}
