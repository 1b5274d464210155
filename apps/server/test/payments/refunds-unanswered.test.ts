// A panel refund whose provider answer we never recorded (the process died, or the answer was
// lost, between Stripe making the refund and our row hearing of it) stays `processing` and holds
// its amount. Reconciliation settles it from Stripe's own record of it (the refund whose metadata
// names our refund): the row gets its answer, the credits are clawed back once (also when the
// charge.refunded webhook was lost and the charge is outside the run's window), and a refund
// Stripe never made is closed as failed once it can no longer be sent again.
import { randomUUID } from "node:crypto";
import { paymentRefunds } from "@credits/db/schema";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  balanceOf,
  chargeRefundedEvent,
  db,
  deliver,
  failOnLoggedError,
  ledgerOf,
  type Purchase,
  paymentRow,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";
import { createAdmin, paidPurchase, refund, refundsOf } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
const admin = await createAdmin(server);
failOnLoggedError();

const share = (purchase: Purchase, minor: number) => Math.floor((purchase.credits * minor) / purchase.amountMinor);

// A refund of 500 whose answer never reached us: Stripe made it (or, `made: false`, never got it).
async function unanswered(purchase: Purchase, made: boolean, sentAgo: string) {
  const body = { amount: 500, idempotencyKey: randomUUID() };
  if (made) mock.loseRefundAnswers(true);
  else mock.failWith("500");
  try {
    expect((await refund(server, admin, purchase.paymentId, body)).status).toBe(503);
  } finally {
    mock.loseRefundAnswers(false);
    mock.failWith(null);
  }
  const [row] = await refundsOf(purchase.paymentId);
  expect(row).toMatchObject({ status: "processing", providerRefundId: null });
  await db
    .update(paymentRefunds)
    .set({ createdAt: sql`now() - ${sql.raw(`interval '${sentAgo}'`)}` })
    .where(eq(paymentRefunds.paymentId, purchase.paymentId));
  return row?.id ?? "";
}

// The run's refund findings for the purchase (the test's Checkout session is not listed as paid,
// so an unexpected_credit is found too).
async function reconcile(purchase: Purchase) {
  const run = await server.services.reconciliation.run({ trigger: "manual" });
  const { findings } = await server.services.reconciliation.getRun(String(run?.id), { limit: 100 });
  return findings.filter((f) => f.paymentId === purchase.paymentId && f.kind.startsWith("refund"));
}

describe("a panel refund left processing without the provider's answer", () => {
  it("is settled from Stripe's record by reconciliation, clawing back once, also when charge.refunded was lost", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    const refundId = await unanswered(purchase, true, "1 hour");
    const [made] = mock.refundsMade().filter((r) => r.payment_intent === purchase.paymentIntent);
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits);

    const findings = await reconcile(purchase);
    expect(findings).toEqual([
      expect.objectContaining({
        kind: "refund_unanswered",
        healed: true,
        providerRef: made?.id,
        detail: expect.objectContaining({ refundId, status: "succeeded", amountMinor: 500 }),
      }),
    ]);
    expect(await refundsOf(purchase.paymentId)).toMatchObject([
      { id: refundId, status: "succeeded", providerRefundId: made?.id },
    ]);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({
      status: "partially_refunded",
      amountRefundedMinor: 500,
      creditsRefunded: share(purchase, 500),
    });

    // Another run, then the lost webhook after all: nothing more.
    expect(await reconcile(purchase)).toEqual([]);
    const late = chargeRefundedEvent({
      id: purchase.chargeId,
      amount: purchase.amountMinor,
      amount_refunded: 500,
      payment_intent: purchase.paymentIntent,
    });
    expect((await deliver(server.url, late)).status).toBe(200);
    expect(await ledgerOf(purchase.paymentId)).toEqual([
      { kind: "purchase", amount: purchase.credits, balanceAfter: purchase.credits },
      { kind: "refund_clawback", amount: -share(purchase, 500), balanceAfter: purchase.credits - share(purchase, 500) },
    ]);
    expect((await server.services.credits.checkInvariants()).violations).toEqual([]);
  });

  it("is left alone while it may still be answered, and closed as failed once Stripe never made it and it cannot be sent again", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    const refundId = await unanswered(purchase, false, "1 hour");
    expect(mock.refundsMade().filter((r) => r.payment_intent === purchase.paymentIntent)).toEqual([]);

    // Within Stripe's key window it can still be sent again (and may still be on its way): untouched.
    expect(await reconcile(purchase)).toEqual([]);
    expect(await refundsOf(purchase.paymentId)).toMatchObject([{ id: refundId, status: "processing" }]);

    await db
      .update(paymentRefunds)
      .set({ createdAt: sql`now() - interval '25 hours'` })
      .where(eq(paymentRefunds.id, refundId));
    const findings = await reconcile(purchase);
    expect(findings).toEqual([
      expect.objectContaining({
        kind: "refund_unanswered",
        healed: true,
        detail: expect.objectContaining({ refundId, status: "failed" }),
      }),
    ]);
    const [row] = await refundsOf(purchase.paymentId);
    expect(row).toMatchObject({ status: "failed", providerRefundId: null });
    expect(row?.failureReason).toMatch(/no refund/);
    // Its amount is no longer held: the whole payment can be refunded.
    const again = await refund(server, admin, purchase.paymentId, {});
    expect(again.body).toMatchObject({ status: "succeeded", amount: purchase.amountMinor });
    expect(await balanceOf(purchase.userId)).toBe(0);
  });
});
