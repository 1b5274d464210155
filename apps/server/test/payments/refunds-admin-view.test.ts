// What the admin panel reads about a user's payments (paid, refunded, refundable, the refunds and
// their states) and what the user reads on a refund's ledger rows; erasure confirmed by typing
// the user's email (optional over REST, always sent by the panel). Real HTTP, Stripe through msw.
import { randomUUID } from "node:crypto";
import { creditTransactions, paymentRefunds, users } from "@credits/db/schema";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  call,
  db,
  failOnLoggedError,
  insertUser,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";
import { createAdmin, decideRefund, paidPurchase, refund } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
// usd:5000 by default: a standard pack (2000) is refunded at once; 1500 of it is, too.
const server = await startTestServer(stripeEnv);
const admin = await createAdmin(server);
const second = await createAdmin(server);
failOnLoggedError();

const account = async (userId: string) => {
  const reply = await call(server.url, "GET", `/api/v1/admin/users/${userId}`, { cookie: admin.cookie });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body;
};

describe("a user's payments as the admin sees them", () => {
  it("shows paid, refunded and refundable amounts and each refund with its state and people", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    const before = (await account(purchase.userId)).payments[0];
    expect(before).toMatchObject({
      id: purchase.paymentId,
      amountMinor: purchase.amountMinor,
      amountRefundedMinor: 0,
      refundableMinor: purchase.amountMinor,
      refunds: [],
    });

    expect((await refund(server, admin, purchase.paymentId, { amount: 500 })).body.status).toBe("succeeded");
    expect((await refund(server, admin, purchase.paymentId, { amount: 300 })).body.status).toBe("succeeded");
    const after = (await account(purchase.userId)).payments[0];
    expect(after).toMatchObject({ amountRefundedMinor: 800, refundableMinor: purchase.amountMinor - 800 });
    expect(after.refunds.map((r: { amount: number; status: string }) => [r.amount, r.status])).toEqual([
      [300, "succeeded"],
      [500, "succeeded"],
    ]);
  });

  it("a refund above the threshold is pending, holds its amount, and shows who approved it once decided", async () => {
    const purchase = await paidPurchase(server, mock, "pro");
    const pending = await refund(server, admin, purchase.paymentId, {});
    expect(pending.body.status).toBe("pending");
    expect((await account(purchase.userId)).payments[0]).toMatchObject({
      amountRefundedMinor: 0,
      refundableMinor: 0,
      refunds: [{ id: pending.body.id, status: "pending", requestedBy: admin.id, decidedBy: null }],
    });
    expect((await decideRefund(server, second, pending.body.id, "approve")).status).toBe(200);
    expect((await account(purchase.userId)).payments[0]).toMatchObject({
      amountRefundedMinor: purchase.amountMinor,
      refundableMinor: 0,
      refunds: [{ status: "succeeded", requestedBy: admin.id, decidedBy: second.id }],
    });
  });

  it("a pending refund past its expiry shows as expired and holds nothing, before anyone opens the approvals", async () => {
    const purchase = await paidPurchase(server, mock, "pro");
    const pending = await refund(server, admin, purchase.paymentId, {});
    expect(pending.body.status).toBe("pending");
    await db
      .update(paymentRefunds)
      .set({ expiresAt: new Date(Date.now() - 1_000) })
      .where(eq(paymentRefunds.id, pending.body.id));
    expect((await account(purchase.userId)).payments[0]).toMatchObject({
      refundableMinor: purchase.amountMinor,
      refunds: [{ id: pending.body.id, status: "expired" }],
    });
  });

  it("what is left to refund counts every request in flight, more than one page of them (F11)", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    // More waiting requests than the panel lists: each holds 1 minor unit.
    const waiting = Array.from({ length: 101 }, () => ({
      paymentId: purchase.paymentId,
      userId: purchase.userId,
      amountMinor: 1,
      currency: "usd",
      reason: "one of many",
      idempotencyKey: `many:${randomUUID()}`,
      status: "pending" as const,
      requestedBy: admin.id,
      expiresAt: new Date(Date.now() + 3_600_000),
    }));
    await db.insert(paymentRefunds).values(waiting);
    const shown = (await account(purchase.userId)).payments[0];
    expect(shown.refunds.length).toBeLessThan(101);
    expect(shown).toMatchObject({ refundableMinor: purchase.amountMinor - 101 });
  });

  it("an unpaid payment has nothing refundable", async () => {
    const { userId, paymentId } = await startPurchase(server, "starter");
    const payment = (await account(userId)).payments.find((p: { id: string }) => p.id === paymentId);
    expect(payment).toMatchObject({ refundableMinor: 0, amountRefundedMinor: 0, refunds: [] });
  });

  it("the clawback row tells the user how much money the refund gave back", async () => {
    const purchase = await paidPurchase(server, mock, "standard");
    await refund(server, admin, purchase.paymentId, { amount: 500 });
    await refund(server, admin, purchase.paymentId, {});
    const rows = await db
      .select({ kind: creditTransactions.kind, reason: creditTransactions.reason })
      .from(creditTransactions)
      .where(eq(creditTransactions.paymentId, purchase.paymentId))
      .orderBy(creditTransactions.seq);
    expect(rows.filter((r) => r.kind === "refund_clawback").map((r) => r.reason)).toEqual([
      "Refund of $5.00 of your $20.00 payment",
      "Refund of $15.00 of your $20.00 payment",
    ]);
  });
});

const erase = (userId: string, body: Record<string, unknown>) =>
  call(server.url, "POST", `/api/v1/admin/users/${userId}/erase`, {
    cookie: admin.cookie,
    body: { reason: "request by email", ...body },
  });
const emailOf = async (id: string) =>
  (await db.select({ email: users.email }).from(users).where(eq(users.id, id)))[0]?.email;

describe("erasure confirmed by the user's email", () => {
  it("a wrong email erases nothing and says so; the right one, in any case and with spaces, erases", async () => {
    const id = await insertUser("confirm");
    const email = (await emailOf(id)) ?? "";
    const wrong = await erase(id, { confirmEmail: `other-${email}` });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toMatchObject({ code: "INVALID_INPUT", message: expect.stringMatching(/does not match/) });
    expect(await emailOf(id)).toBe(email);

    const right = await erase(id, { confirmEmail: `  ${email.toUpperCase()} ` });
    expect(right.status, JSON.stringify(right.body)).toBe(200);
    expect(right.body.alreadyErased).toBe(false);
    expect(await emailOf(id)).toBeNull();
    // Sent again (a retried request): already erased, whatever it typed.
    expect((await erase(id, { confirmEmail: email })).body.alreadyErased).toBe(true);
  });

  it("without confirmEmail the REST contract is unchanged", async () => {
    const id = await insertUser("legacy");
    expect((await erase(id, {})).status).toBe(200);
    expect(await emailOf(id)).toBeNull();
  });

  it("hostile confirmEmail values are refused before anything changes", async () => {
    const id = await insertUser("hostile");
    const email = await emailOf(id);
    for (const confirmEmail of ["", "a\u0000b@example.test", "x".repeat(100_000), 42, null, ["a"], { a: 1 }]) {
      const reply = await erase(id, { confirmEmail });
      expect(reply.status, JSON.stringify(confirmEmail).slice(0, 40)).toBe(400);
      expect(reply.body.error.code).toBe("INVALID_INPUT");
    }
    expect(await emailOf(id)).toBe(email);
    expect((await erase(randomUUID(), { confirmEmail: email })).status).toBe(404);
  });
});
