// Refund defects found in review, each shown through real HTTP with Stripe answered by msw as
// Stripe answers: a concurrent request with the same key is a 409, a saved 500 is replayed, and
// keys are pruned after 24 hours.
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
  paymentRow,
  type Reply,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";
import { createAdmin, decideRefund, paidPurchase, refund, refundsOf } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
// The default threshold: usd:5000.
const server = await startTestServer(stripeEnv);
const [admin, other] = [await createAdmin(server), await createAdmin(server)];
failOnLoggedError();

const refundCalls = (paymentIntent: string) =>
  mock.requestsTo("POST", "/v1/refunds").filter((r) => r.params.payment_intent === paymentIntent).length;

function refundedEvent(paymentIntent: string) {
  const current = mock.chargeOf(paymentIntent);
  if (!current) throw new Error(`no charge for ${paymentIntent}`);
  return chargeRefundedEvent({
    id: String(current.id),
    amount: Number(current.amount),
    amount_refunded: Number(current.amount_refunded),
    payment_intent: paymentIntent,
  });
}

describe("refund review", () => {
  it("a retry sent while Stripe still answers the first (409, key in use) leaves the refund processing, never failed", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    const body = { amount: 500, idempotencyKey: randomUUID() };
    let retry: Reply | null = null;
    mock.beforeRefundAnswer(async () => {
      retry = await refund(server, admin, purchase.paymentId, body);
    });
    let first: Reply;
    try {
      first = await refund(server, admin, purchase.paymentId, body);
    } finally {
      mock.beforeRefundAnswer(null);
    }
    // The retry could not know the outcome: unavailable, to be sent again, not a refusal.
    expect(retry).toMatchObject({ status: 503 });
    expect(first.body).toMatchObject({ status: "succeeded", failureReason: null });
    const [row] = await refundsOf(purchase.paymentId);
    expect(row).toMatchObject({ status: "succeeded" });
    expect(await ledgerOf(purchase.paymentId)).toEqual([
      { kind: "purchase", amount: purchase.credits, balanceAfter: purchase.credits },
      { kind: "refund_clawback", amount: -125, balanceAfter: purchase.credits - 125 },
    ]);
  });

  it("a refund whose answer was lost is never sent again once Stripe may have pruned its key (24 h): no second refund", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    const body = { amount: 500, idempotencyKey: randomUUID() };
    mock.loseRefundAnswers(true);
    try {
      expect((await refund(server, admin, purchase.paymentId, body)).status).toBe(503);
    } finally {
      mock.loseRefundAnswers(false);
    }
    // Stripe made the refund: its charge.refunded claws back; our row still waits for an answer.
    expect((await deliver(server.url, refundedEvent(purchase.paymentIntent))).status).toBe(200);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ amountRefundedMinor: 500 });
    const [row] = await refundsOf(purchase.paymentId);
    expect(row).toMatchObject({ status: "processing" });
    const sent = refundCalls(purchase.paymentIntent);

    // A day later the admin sends the request again: Stripe no longer knows the key.
    await db
      .update(paymentRefunds)
      .set({ createdAt: sql`now() - interval '25 hours'` })
      .where(eq(paymentRefunds.paymentId, purchase.paymentId));
    mock.pruneRefundKeys();
    const late = await refund(server, admin, purchase.paymentId, body);
    expect(late.status).toBe(409);
    expect(late.body.error.message).toMatch(/refundId/);
    expect(refundCalls(purchase.paymentIntent)).toBe(sent);
    expect(mock.chargeOf(purchase.paymentIntent)).toMatchObject({ amount_refunded: 500 });
    expect(await refundsOf(purchase.paymentId)).toMatchObject([{ status: "processing" }]);
  });

  it("refunds split below the threshold still need a second admin once their sum passes it", async () => {
    const purchase = await paidPurchase(server, mock, "pro");
    const first = await refund(server, admin, purchase.paymentId, { amount: 3000 });
    expect(first.body).toMatchObject({ status: "succeeded" });
    const second = await refund(server, admin, purchase.paymentId, { amount: 3000 });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ status: "pending" });
    expect(refundCalls(purchase.paymentIntent)).toBe(1);
    expect(await paymentRow(purchase.paymentId)).toMatchObject({ amountRefundedMinor: 3000 });
    const approved = await decideRefund(server, other, second.body.id, "approve");
    expect(approved.body).toMatchObject({ status: "succeeded", decidedBy: other.id });
  });

  it("an expired request no longer holds its amount: a new refund is filed without anyone listing the queue first", async () => {
    const purchase = await paidPurchase(server, mock, "pro");
    const filed = await refund(server, admin, purchase.paymentId, {});
    expect(filed.body).toMatchObject({ status: "pending", amount: 7000 });
    await db
      .update(paymentRefunds)
      .set({ expiresAt: sql`now() - interval '1 minute'` })
      .where(eq(paymentRefunds.id, filed.body.id));
    const small = await refund(server, other, purchase.paymentId, { amount: 3500 });
    expect(small.status, JSON.stringify(small.body)).toBe(200);
    expect(small.body).toMatchObject({ status: "succeeded" });
    const rows = await refundsOf(purchase.paymentId);
    expect(rows.find((r) => r.id === filed.body.id)).toMatchObject({ status: "expired" });
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits / 2);
  });
});
