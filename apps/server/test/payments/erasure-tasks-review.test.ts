// The erasure's work at the provider under failure (erase19 review): an erase request waits for
// one provider timeout at most, the worker expires sessions before deleting their customer, the
// customer-delete flag stops customer deletes only, and an erasure refund that ends failed (the
// provider refused it, or reconciliation closed it unanswered) is reported for a person, once, by
// its row's id: the money of a person who asked to be forgotten is still ours.
import { paymentRefunds, providerErasureTasks } from "@credits/db/schema";
import { eq, sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { erasureProbes } from "./erasure-helpers.ts";
import {
  charge,
  db,
  deliver,
  type Purchase,
  purchaseEvents,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
const { erase, tasksOf, makeDue, expiresOf, refundRowsOf } = erasureProbes(server, mock);
const { gdpr, reconciliation } = server.services;

const passError = () =>
  gdpr.runErasureTasks().then(
    () => "",
    (error: unknown) => String((error as Error).message),
  );

afterEach(() => mock.failWith(null));

// A purchase paid while its user was erased, credited by its webhook: its erasure refund is filed
// and queued, not sent yet.
async function creditedAfterErasure(): Promise<Purchase & { refundId: string }> {
  const purchase = await startPurchase(server, "starter");
  mock.updateSession(purchase.sessionId, { status: "complete", payment_status: "paid" });
  await erase(purchase.userId);
  mock.addCharge(
    charge({ id: purchase.chargeId, amount: purchase.amountMinor, payment_intent: purchase.paymentIntent }),
  );
  expect((await deliver(server.url, purchaseEvents(mock, purchase).completed())).status).toBe(200);
  const [filed] = await refundRowsOf(purchase.paymentId);
  expect(filed).toMatchObject({ origin: "erasure", status: "processing" });
  return { ...purchase, refundId: String(filed?.id) };
}

describe("the erasure's provider work when the provider fails", () => {
  it("an erasure with the provider down tries once; the worker expires the sessions before deleting the customer", async () => {
    const first = await startPurchase(server, "starter");
    const second = await startPurchase(server, "starter", first.userId);
    mock.failWith("500");

    await erase(first.userId);

    // One task tried, the rest left to the worker: not one timeout per task.
    expect([first, second].filter((p) => expiresOf(p.sessionId) > 0)).toHaveLength(1);
    const queued = await tasksOf(first.userId);
    const customer = queued.find((task) => task.kind === "delete_customer")?.targetId ?? "";
    expect(customer).toMatch(/^cus_/);
    expect(mock.requestsTo("DELETE", `/v1/customers/${customer}`)).toEqual([]);
    expect(queued).toHaveLength(3);

    // The customer's task is the oldest: claimed by age alone it would go first.
    mock.failWith(null);
    await makeDue(first.userId);
    await db
      .update(providerErasureTasks)
      .set({ lastTriedAt: sql`now() - interval '8 hours'` })
      .where(eq(providerErasureTasks.targetId, customer));
    const before = mock.requests.length;
    await gdpr.runErasureTasks();
    const order = mock.requests
      .slice(before)
      .map((request) => request.path)
      .filter((path) => path.includes(customer) || path.endsWith("/expire"));
    expect(order.slice(-3)).toEqual([
      expect.stringMatching(/\/expire$/),
      expect.stringMatching(/\/expire$/),
      `/v1/customers/${customer}`,
    ]);
    expect(await tasksOf(first.userId)).toEqual([]);
  });

  it("with customer deletes off, sessions are still expired and refunds sent; the customer waits", async () => {
    const purchase = await creditedAfterErasure();
    const open = await startPurchase(server, "starter");
    mock.failWith("500");
    await erase(open.userId);
    mock.failWith(null);
    await makeDue(open.userId);

    await gdpr.runErasureTasks({ deleteCustomers: false });

    expect(mock.sessions.get(open.sessionId)?.status).toBe("expired");
    expect((await tasksOf(open.userId)).map((task) => task.kind)).toEqual(["delete_customer"]);
    expect(await refundRowsOf(purchase.paymentId)).toMatchObject([{ status: "succeeded" }]);
    expect(await tasksOf(purchase.userId)).toEqual([]);
  });

  it("an erasure refund the provider refuses is reported once, for a person, by its id only", async () => {
    const purchase = await creditedAfterErasure();
    // Refunded meanwhile in the dashboard: Stripe refuses another refund of the charge.
    mock.addCharge(
      charge({
        id: purchase.chargeId,
        amount: purchase.amountMinor,
        amount_refunded: purchase.amountMinor,
        payment_intent: purchase.paymentIntent,
      }),
    );

    const reported = await passError();

    expect(reported).toMatch(/erasure refunds failed, the money is still ours: send it back by hand/);
    expect(reported).toContain(purchase.refundId);
    for (const personal of [purchase.userId, purchase.paymentIntent, purchase.chargeId, purchase.sessionId]) {
      expect(reported).not.toContain(personal);
    }
    expect(await refundRowsOf(purchase.paymentId)).toMatchObject([{ status: "failed" }]);
    // Done: nothing more can be sent under its key, and the next pass does not report it again.
    expect(await tasksOf(purchase.userId)).not.toContainEqual({ kind: "send_refund", targetId: purchase.refundId });
    expect(await passError()).not.toContain(purchase.refundId);
  });

  it("an erasure refund reconciliation closes unanswered after the key window is reported as failed", async () => {
    const purchase = await creditedAfterErasure();
    mock.failWith("500");
    await expect(gdpr.runErasureTasks()).rejects.toThrow(/refunds not sent/);
    mock.failWith(null);
    // A day later Stripe has forgotten the key: the worker may not send it again, reconciliation
    // finds no refund of it at Stripe and closes it as failed.
    await db
      .update(paymentRefunds)
      .set({ createdAt: sql`now() - interval '25 hours'` })
      .where(eq(paymentRefunds.id, purchase.refundId));
    await makeDue(purchase.userId);
    expect(await passError()).toMatch(/1 refunds not sent/);
    await reconciliation.run({ trigger: "manual" });
    expect(await refundRowsOf(purchase.paymentId)).toMatchObject([{ status: "failed" }]);

    await makeDue(purchase.userId);
    const reported = await passError();

    expect(reported).toMatch(/erasure refunds failed/);
    expect(reported).toContain(purchase.refundId);
    expect(await tasksOf(purchase.userId)).not.toContainEqual({ kind: "send_refund", targetId: purchase.refundId });
  });
});
