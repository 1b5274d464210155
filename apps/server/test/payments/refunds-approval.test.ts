// Refunds above ADMIN_REFUND_APPROVAL_MINOR wait for a second admin, as adjustments do: the
// requester and the person the money goes to cannot approve; an approval applies once, also when
// sent twice or by two admins at once. And hostile inputs change nothing.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  balanceOf,
  call,
  failOnLoggedError,
  ledgerOf,
  pack,
  paymentRow,
  signUp,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";
import { createAdmin, decideRefund, paidPurchase, refund, refundAudit, refundsOf } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
const [requester, approver, third] = [await createAdmin(server), await createAdmin(server), await createAdmin(server)];
failOnLoggedError();

const refundCalls = (paymentIntent: string) =>
  mock.requestsTo("POST", "/v1/refunds").filter((r) => r.params.payment_intent === paymentIntent).length;

describe("refunds above the approval threshold (usd:5000 by default)", () => {
  it("a pro pack (7000) files a pending request: nothing sent, its amount held; another admin approves it once", async () => {
    const purchase = await paidPurchase(server, mock, "pro");
    const filed = await refund(server, requester, purchase.paymentId, {});
    expect(filed.status).toBe(200);
    expect(filed.body).toMatchObject({ status: "pending", amount: 7000, providerRefundId: null, decidedBy: null });
    expect(refundCalls(purchase.paymentIntent)).toBe(0);
    expect(await balanceOf(purchase.userId)).toBe(purchase.credits);
    // The pending request holds its amount: nothing else can be refunded meanwhile.
    expect((await refund(server, third, purchase.paymentId, { amount: 1 })).status).toBe(409);

    const queue = await call(server.url, "GET", "/api/v1/admin/refunds", { cookie: approver.cookie });
    expect(queue.body.refunds.map((r: { id: string }) => r.id)).toContain(filed.body.id);

    const own = await decideRefund(server, requester, filed.body.id, "approve");
    expect(own.status).toBe(403);
    const approved = await decideRefund(server, approver, filed.body.id, "approve");
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body).toMatchObject({ status: "succeeded", decidedBy: approver.id, requestedBy: requester.id });
    // Sent again by the same approver: the same refund, no second refund at Stripe.
    const again = await decideRefund(server, approver, filed.body.id, "approve");
    expect(again.status).toBe(200);
    expect(again.body.providerRefundId).toBe(approved.body.providerRefundId);
    // Another admin comes too late.
    expect((await decideRefund(server, third, filed.body.id, "approve")).status).toBe(409);
    expect(refundCalls(purchase.paymentIntent)).toBe(1);
    expect(await ledgerOf(purchase.paymentId)).toEqual([
      { kind: "purchase", amount: purchase.credits, balanceAfter: purchase.credits },
      { kind: "refund_clawback", amount: -purchase.credits, balanceAfter: 0 },
    ]);
    expect(await refundAudit(purchase.paymentId)).toEqual(["refund_approved", "refund_requested", "refund_succeeded"]);
  });

  it("two admins approving at once: one wins, one refund at Stripe, one clawback", async () => {
    const purchase = await paidPurchase(server, mock, "pro");
    const filed = await refund(server, requester, purchase.paymentId, {});
    const replies = await Promise.all([
      decideRefund(server, approver, filed.body.id, "approve"),
      decideRefund(server, third, filed.body.id, "approve"),
    ]);
    expect(replies.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(refundCalls(purchase.paymentIntent)).toBe(1);
    expect((await ledgerOf(purchase.paymentId)).filter((r) => r.kind === "refund_clawback")).toHaveLength(1);
    expect(await balanceOf(purchase.userId)).toBe(0);
  });

  it("rejected: nothing sent, the amount is free again, a later approve is refused", async () => {
    const purchase = await paidPurchase(server, mock, "pro");
    const filed = await refund(server, requester, purchase.paymentId, {});
    const rejected = await decideRefund(server, approver, filed.body.id, "reject");
    expect(rejected.body).toMatchObject({ status: "rejected", decidedBy: approver.id });
    expect((await decideRefund(server, third, filed.body.id, "approve")).status).toBe(409);
    expect(refundCalls(purchase.paymentIntent)).toBe(0);
    const small = await refund(server, requester, purchase.paymentId, { amount: 1000 });
    expect(small.body.status).toBe("succeeded");
  });

  it("an admin's own payment: always a request, and neither requester nor payee may approve", async () => {
    const small = await paidPurchase(server, mock, "starter", approver.id);
    expect((await refund(server, approver, small.paymentId, { amount: 100 })).body.status).toBe("pending");
    const purchase = await paidPurchase(server, mock, "pro", approver.id);
    const filed = await refund(server, requester, purchase.paymentId, {});
    expect(filed.body.status).toBe("pending");
    const byPayee = await decideRefund(server, approver, filed.body.id, "approve");
    expect(byPayee.status).toBe(403);
    expect(byPayee.body.error.message).toMatch(/goes to you/);
    expect((await decideRefund(server, third, filed.body.id, "approve")).body.status).toBe("succeeded");
  });
});

describe("hostile refund requests are refused and change nothing", () => {
  const hostile: [string, Record<string, unknown>][] = [
    ["a reason with control characters", { reason: "refund\u0000now" }],
    ["a reason with an escape sequence", { reason: "\u001b[31mred" }],
    ["a reason with bidirectional controls", { reason: "refund \u202Eevil" }],
    ["a huge reason", { reason: "x".repeat(100_000) }],
    ["an empty reason", { reason: "   " }],
    ["a negative amount", { amount: -100 }],
    ["a zero amount", { amount: 0 }],
    ["a fractional amount", { amount: 1.5 }],
    ["a huge amount", { amount: 1e16 }],
    ["an amount as a string", { amount: "100" }],
    ["a reason that is not text", { reason: 42 }],
    ["no idempotency key", { idempotencyKey: undefined }],
    ["an unknown field", { credits: 5 }],
  ];

  it.each(hostile)("%s: 400 INVALID_INPUT", async (_, body) => {
    const purchase = await paidPurchase(server, mock, "standard");
    const reply = await refund(server, requester, purchase.paymentId, body);
    expect(reply.status).toBe(400);
    expect(reply.body.error.code).toBe("INVALID_INPUT");
    expect(await refundsOf(purchase.paymentId)).toHaveLength(0);
    expect(refundCalls(purchase.paymentIntent)).toBe(0);
  });

  it("a user who is not an admin: 403; no session: 401", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    const user = await signUp(server.url);
    expect((await refund(server, user, purchase.paymentId, {})).status).toBe(403);
    expect((await refund(server, { cookie: "" }, purchase.paymentId, {})).status).toBe(401);
    expect((await decideRefund(server, { id: user.id, cookie: user.cookie }, randomUUID(), "approve")).status).toBe(
      403,
    );
    expect(await refundsOf(purchase.paymentId)).toHaveLength(0);
  });

  it("an unknown payment is a 404; an unpaid one a 409", async () => {
    expect((await refund(server, requester, randomUUID(), {})).status).toBe(404);
    const unpaid = await startPurchase(server, "starter");
    const reply = await refund(server, requester, unpaid.paymentId, {});
    expect(reply.status).toBe(409);
    expect(reply.body.error.message).toMatch(/only a paid payment/);
    expect(await paymentRow(unpaid.paymentId)).toMatchObject({ status: "created" });
  });
});

describe("refunds on the local provider (no Stripe key)", () => {
  const local = startTestServer();

  it("a paid local checkout refunds through the simulated refund; its charge.refunded arrives first; clawed back once", async () => {
    const running = await local;
    const admin = await createAdmin(running);
    const user = await signUp(running.url);
    const standard = await pack("standard");
    const started = await call(running.url, "POST", "/api/v1/checkout", {
      cookie: user.cookie,
      body: { packageId: standard.id },
    });
    const path = new URL(started.body.checkoutUrl).pathname;
    expect((await call(running.url, "POST", `${path}/pay`)).status).toBe(303);
    expect(await balanceOf(user.id)).toBe(standard.credits);

    const reply = await refund(running, admin, started.body.paymentId, { amount: standard.priceMinor / 2 });
    expect(reply.body).toMatchObject({ status: "succeeded", providerRefundId: expect.stringMatching(/^re_local_/) });
    expect(await balanceOf(user.id)).toBe(standard.credits / 2);
    const clawbacks = (await ledgerOf(started.body.paymentId)).filter((row) => row.kind === "refund_clawback");
    expect(clawbacks).toEqual([
      { kind: "refund_clawback", amount: -standard.credits / 2, balanceAfter: standard.credits / 2 },
    ]);
    expect(await paymentRow(started.body.paymentId)).toMatchObject({ status: "partially_refunded" });
  });
});
