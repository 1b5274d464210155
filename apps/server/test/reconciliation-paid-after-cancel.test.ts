// A checkout canceled from the cancel page and paid all the same is credited and flagged for
// review by the fulfil function (ADR 002); the daily reconciliation reports it too
// (paid_after_cancel, unhealed: a person checks with the customer), whether the webhook credited
// it or the run itself did, and adds no second flag or audit row of its own.
import type { ReconciliationFinding, ReconciliationRun } from "@credits/core";
import { adminActions } from "@credits/db/schema";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { randomStripeId, startReconciliationServer, testDb } from "./reconciliation-setup.ts";

const { server, checkout, paidAtStripe, deliverPaid, paymentRow, balance } = await startReconciliationServer();
const { reconciliation, payments } = server.services;

async function findingsOf(paymentId: string): Promise<ReconciliationFinding[]> {
  const run: ReconciliationRun | null = await reconciliation.run({ trigger: "manual" });
  expect(run?.status).toBe("succeeded");
  const page = await reconciliation.getRun(run?.id ?? "", { limit: 100 });
  return page.findings.filter((finding) => finding.paymentId === paymentId);
}

const audits = (paymentId: string) =>
  testDb.db
    .select({ action: adminActions.action })
    .from(adminActions)
    .where(sql`${adminActions.detail}->>'paymentId' = ${paymentId}`);

// The customer backed out, the cancel page expired nothing (the session was already being paid).
async function canceledCheckout() {
  const started = await checkout();
  // The session is still open at Stripe when the cancel page expires it.
  const canceled = await payments.cancelCheckout(started.userId, started.payment.id);
  expect(canceled.status).toBe("canceled");
  return started;
}

describe("reconciliation: paid after its checkout was canceled", () => {
  it("reports a payment the webhook credited after the cancel, every run while it is flagged", async () => {
    const { userId, payment, sessionId } = await canceledCheckout();
    const paymentIntent = randomStripeId("pi");
    paidAtStripe(sessionId, paymentIntent);
    await deliverPaid(payment.id, sessionId, paymentIntent);
    expect(await paymentRow(payment.id)).toMatchObject({
      status: "paid",
      reviewReason: expect.stringMatching(/canceled/),
    });

    const expected = [
      expect.objectContaining({ kind: "paid_after_cancel", userId, healed: false, providerRef: sessionId }),
    ];
    expect(await findingsOf(payment.id)).toEqual(expected);
    expect(await findingsOf(payment.id)).toEqual(expected);
    // The flag and its audit row are the fulfil function's, once.
    expect(await audits(payment.id)).toEqual([{ action: "payment.paid_after_cancel" }]);
    expect(await balance(userId)).toBe(payment.credits);
  });

  it("reports it beside the healed missing credit when the run itself credits the canceled payment", async () => {
    const { userId, payment, sessionId } = await canceledCheckout();
    paidAtStripe(sessionId, randomStripeId("pi"));
    const found = await findingsOf(payment.id);
    expect(found.map((f) => [f.kind, f.healed]).sort()).toEqual([
      ["missing_credit", true],
      ["paid_after_cancel", false],
    ]);
    expect(await balance(userId)).toBe(payment.credits);
    expect(await audits(payment.id)).toEqual([{ action: "payment.paid_after_cancel" }]);
  });

  it("does not report a canceled payment its session never paid", async () => {
    const { payment } = await canceledCheckout();
    expect(await findingsOf(payment.id)).toEqual([]);
    expect(
      (await testDb.db.select().from(adminActions).where(eq(adminActions.targetUserId, payment.userId))).length,
    ).toBe(0);
  });
});
