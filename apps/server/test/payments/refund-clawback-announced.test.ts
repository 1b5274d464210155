// Every clawback of a refund reaches webhook receivers as payment.refunded (review 9). When the
// provider delivers charge.refunded before the async payment's success (events in any order, ADR
// 002), the refund is recorded on the payment not yet credited and announced with creditsRefunded
// 0; the clawback itself is posted when the payment is credited (fulfil's settle), and used to be
// announced by nothing: payment.refunded followed only the refunded money. A receiver that tracks
// balances from credits.purchased and payment.refunded believed the user still had the credits.
import { outboxEvents } from "@credits/db/schema";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  balanceOf,
  db,
  deliver,
  failOnLoggedError,
  ledgerOf,
  purchaseEvents,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
failOnLoggedError();

describe("a refund's clawback posted when the payment is credited", () => {
  it("async payment: charge.refunded delivered before async_payment_succeeded", async () => {
    const purchase = await startPurchase(server, "standard");
    const events = purchaseEvents(mock, purchase);
    expect((await deliver(server.url, events.completed(false))).status).toBe(200);
    expect((await deliver(server.url, events.refunded(purchase.amountMinor))).status).toBe(200);
    expect((await deliver(server.url, events.asyncSucceeded())).status).toBe(200);

    expect(await balanceOf(purchase.userId)).toBe(0);
    expect((await ledgerOf(purchase.paymentId)).map((r) => r.kind)).toEqual(["purchase", "refund_clawback"]);

    const announced = (
      await db.select().from(outboxEvents).where(eq(outboxEvents.userId, purchase.userId)).orderBy(outboxEvents.seq)
    )
      .map((row) => row.payload as { type: string; data: Record<string, unknown> })
      .filter((p) => p.type === "payment.refunded")
      .map((p) => p.data.creditsRefunded);
    // First the refund on the payment not yet credited, then its clawback at the credit.
    expect(announced, "payment.refunded creditsRefunded values announced").toEqual([0, purchase.credits]);
  });
});
