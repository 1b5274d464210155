// payment.refund_failed (outbound event): a refund the provider refused when it was sent, or one
// it made and later failed (a bank sent it back), is announced once, in the transaction that
// records it failed; a redelivered failure announces nothing more. Stripe's API answered by msw.
import { outboxEvents } from "@credits/db/schema";
import { and, asc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  db,
  deliver,
  failOnLoggedError,
  type Purchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
  stripeEvent,
} from "./helpers.ts";
import { createAdmin, paidPurchase, refund } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
const admin = await createAdmin(server);
failOnLoggedError();

const refundFailedEvents = async (purchase: Purchase) =>
  (
    await db
      .select({ payload: outboxEvents.payload })
      .from(outboxEvents)
      .where(and(eq(outboxEvents.type, "payment.refund_failed"), eq(outboxEvents.userId, purchase.userId)))
      .orderBy(asc(outboxEvents.seq))
  ).map((row) => (row.payload as { data?: unknown } | null)?.data);

describe("payment.refund_failed", () => {
  it("a refund Stripe refuses when it is sent: announced with our refund's id and Stripe's reason", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    // Refunded in Stripe's dashboard meanwhile: Stripe refuses ours.
    mock.addCharge({ ...mock.chargeOf(purchase.paymentIntent), amount_refunded: purchase.amountMinor });
    const reply = await refund(server, admin, purchase.paymentId, { amount: 100 });
    expect(reply.body).toMatchObject({ status: "failed" });
    expect(await refundFailedEvents(purchase)).toEqual([
      {
        userId: purchase.userId,
        paymentId: purchase.paymentId,
        refundId: reply.body.id,
        providerRefundId: null,
        amountMinor: 100,
        currency: "usd",
        reason: expect.stringMatching(/already been refunded/),
      },
    ]);
  });

  it("a refund Stripe made and later failed: announced once, however often the failure is delivered", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    mock.refundsStart("pending");
    const reply = await refund(server, admin, purchase.paymentId, {});
    mock.refundsStart("succeeded");
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(await refundFailedEvents(purchase)).toEqual([]);

    const failed = mock.failRefund(String(reply.body.providerRefundId));
    const event = stripeEvent("refund.failed", failed);
    expect((await deliver(server.url, event)).status).toBe(200);
    expect((await deliver(server.url, event)).status).toBe(200);
    for (const type of ["charge.refund.updated", "refund.updated"]) {
      expect((await deliver(server.url, stripeEvent(type, failed))).status).toBe(200);
    }
    expect(await refundFailedEvents(purchase)).toEqual([
      {
        userId: purchase.userId,
        paymentId: purchase.paymentId,
        refundId: reply.body.id,
        providerRefundId: reply.body.providerRefundId,
        amountMinor: purchase.amountMinor,
        currency: "usd",
        reason: expect.stringMatching(/^the provider's refund failed/),
      },
    ]);
  });
});
