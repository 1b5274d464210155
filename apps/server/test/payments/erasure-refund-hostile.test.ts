// The erasure refund (ADR 025) skips the second admin: nothing else may. A living user's payment
// is never refunded by it, a payment credited before the erasure is not either (the erasure does
// not refund what was bought and kept), the worker sends no refund that is not one (an admin's
// refund waiting for approval, queued by hand), and the database admits an erasure refund only as
// the full refund of an erased user's credited payment, under that payment's own key.
import { randomUUID } from "node:crypto";
import { paymentRefunds, providerErasureTasks } from "@credits/db/schema";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { erasureProbes } from "./erasure-helpers.ts";
import {
  charge,
  db,
  deliver,
  insertUser,
  type Purchase,
  purchaseEvents,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";
import { createAdmin, paidPurchase, refund } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
const { erase, refundRowsOf, refundRequests } = erasureProbes(server, mock);
const { gdpr } = server.services;

// An erasure refund row written straight to the database, as a path that skipped the rule would.
type GuardedFields = { amountMinor?: number; idempotencyKey?: string; currency?: string; status?: "pending" };
const insertErasureRefund = (purchase: Purchase, fields: GuardedFields = {}) =>
  db.insert(paymentRefunds).values({
    paymentId: purchase.paymentId,
    userId: purchase.userId,
    amountMinor: fields.amountMinor ?? purchase.amountMinor,
    currency: fields.currency ?? "usd",
    reason: "not an erasure",
    idempotencyKey: fields.idempotencyKey ?? `erasure:${purchase.paymentId}`,
    status: fields.status ?? "processing",
    origin: "erasure",
    requestedBy: purchase.userId,
    expiresAt: new Date(),
  });

// The database's own refusal (drizzle wraps it: the driver's error is the cause).
async function refusal(insert: Promise<unknown>): Promise<string> {
  const error = await insert.then(
    () => null,
    (caught: unknown) => caught as { message: string; cause?: { message?: string } },
  );
  return String(error?.cause?.message ?? error?.message ?? "accepted");
}
const GUARD = /a system refund is only the full refund of an erased user's payment/;

describe("the erasure refund is for erased users' payments only", () => {
  it("a living user's payment, credited by its webhook and healed again, is never refunded", async () => {
    const purchase = await paidPurchase(server, mock, "starter");
    expect((await deliver(server.url, purchaseEvents(mock, purchase).completed())).status).toBe(200);

    await gdpr.runErasureTasks();

    expect(await refundRowsOf(purchase.paymentId)).toEqual([]);
    expect(refundRequests(purchase.paymentIntent)).toEqual([]);
  });

  it("a payment credited before its user was erased is not refunded by the erasure", async () => {
    const purchase = await paidPurchase(server, mock, "starter");

    await erase(purchase.userId);
    expect((await deliver(server.url, purchaseEvents(mock, purchase).completed())).status).toBe(200);
    await gdpr.runErasureTasks();

    expect(await refundRowsOf(purchase.paymentId)).toEqual([]);
    expect(refundRequests(purchase.paymentIntent)).toEqual([]);
  });

  it("the worker never sends an admin's refund waiting for approval, even queued as a send", async () => {
    const [admin, purchase] = [await createAdmin(server), await paidPurchase(server, mock, "pro")];
    const asked = await refund(server, admin, purchase.paymentId, {});
    expect(asked.body).toMatchObject({ status: "pending" });
    const refundId = String((asked.body as { id: string }).id);
    await db.insert(providerErasureTasks).values({ kind: "send_refund", targetId: refundId, userId: purchase.userId });

    await gdpr.runErasureTasks();

    expect(refundRequests(purchase.paymentIntent)).toEqual([]);
    expect(await refundRowsOf(purchase.paymentId)).toMatchObject([{ status: "pending", origin: "admin" }]);
  });

  it("the database refuses an erasure refund of a living user's payment", async () => {
    const purchase = await paidPurchase(server, mock, "starter");
    expect(await refusal(insertErasureRefund(purchase))).toMatch(GUARD);
    expect(await refundRowsOf(purchase.paymentId)).toEqual([]);
  });

  it("the database refuses a partial, pending or other-currency erasure refund, or one under another key", async () => {
    const purchase = await startPurchase(server, "starter", await insertUser("erased-then-paid"));
    await erase(purchase.userId);
    mock.addCharge(
      charge({ id: purchase.chargeId, amount: purchase.amountMinor, payment_intent: purchase.paymentIntent }),
    );
    // Credited and refunded in full by the rule: the refund row exists; delete it to try others.
    expect((await deliver(server.url, purchaseEvents(mock, purchase).completed())).status).toBe(200);
    await db.delete(providerErasureTasks).where(eq(providerErasureTasks.userId, purchase.userId));
    await db.delete(paymentRefunds).where(eq(paymentRefunds.paymentId, purchase.paymentId));

    expect(await refusal(insertErasureRefund(purchase, { amountMinor: purchase.amountMinor - 1 }))).toMatch(GUARD);
    expect(await refusal(insertErasureRefund(purchase, { idempotencyKey: `erasure:${randomUUID()}` }))).toMatch(
      /payment_refunds_origin/,
    );
    // Pending would wait for a second admin's decision that an erasure refund never gets.
    expect(await refusal(insertErasureRefund(purchase, { status: "pending" }))).toMatch(/payment_refunds_origin/);
    // The same number in another currency is another amount.
    expect(await refusal(insertErasureRefund(purchase, { currency: "eur" }))).toMatch(GUARD);
    await expect(insertErasureRefund(purchase)).resolves.toBeDefined();
  });
});
