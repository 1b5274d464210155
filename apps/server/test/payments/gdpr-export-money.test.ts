// Review F9b and issue 15: the GDPR export holds the user's auto top-up (settings and attempts)
// and the refunds and refund requests of their payments; only theirs, and no provider secrets.
import { randomUUID } from "node:crypto";
import { paymentRefunds } from "@credits/db/schema";
import { describe, expect, it } from "vitest";
import { attemptsOf, saverWithCard, spend } from "./auto-topup-helpers.ts";
import {
  call,
  db,
  deliver,
  failOnLoggedError,
  sessionEvent,
  signUp,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer({
  ...stripeEnv,
  STRIPE_ALLOW_PROMOTION_CODES: "true",
  STRIPE_AUTOMATIC_TAX: "true",
});
failOnLoggedError();

// A saver whose card topped up once (100 → 40 → 140), and two refunds of the first purchase.
async function customerWithHistory(admin: { id: string }) {
  const saver = await saverWithCard(server, mock);
  await spend(server, saver.id, 60);
  await server.services.autoTopUp.runOnce();
  const [attempt] = await attemptsOf(saver.id);
  expect(attempt?.status).toBe("succeeded");
  const [purchase] = await db.query.payments.findMany({ where: (p, { eq }) => eq(p.userId, saver.id) });
  const paymentId = purchase?.id ?? "";
  const refund = (status: "pending" | "succeeded", providerRefundId: string | null) => ({
    paymentId,
    userId: saver.id,
    amountMinor: 100,
    currency: "usd",
    reason: `goodwill ${status}`,
    idempotencyKey: `refund-key-${randomUUID()}`,
    status,
    requestedBy: admin.id,
    expiresAt: new Date(Date.now() + 86_400_000),
    providerRefundId,
  });
  await db.insert(paymentRefunds).values([refund("succeeded", `re_secret_${randomUUID()}`), refund("pending", null)]);
  return { saver, attempt, paymentId };
}

describe("F9b: the export's money beyond purchases", () => {
  it("holds the auto top-up settings and attempts and the refunds of the user's payments, theirs only", async () => {
    const admin = await signUp(server.url, "gdpr-admin");
    const { saver, attempt, paymentId } = await customerWithHistory(admin);
    const other = await customerWithHistory(admin);

    const reply = await call(server.url, "GET", "/api/v1/gdpr/export", { cookie: saver.cookie });
    expect(reply.status).toBe(200);
    expect(reply.body.autoTopUp).toMatchObject({
      enabled: true,
      threshold: 50,
      cardSaved: true,
      consecutiveFailures: 0,
    });
    expect(reply.body.autoTopUpAttempts).toEqual([
      expect.objectContaining({ id: attempt?.id, status: "succeeded", reason: null, paymentId: attempt?.paymentId }),
    ]);
    expect(reply.body.refunds.map((r: { status: string }) => r.status).sort()).toEqual(["pending", "succeeded"]);
    expect(reply.body.refunds[0]).toMatchObject({ paymentId, amountMinor: 100, currency: "usd" });

    const text = JSON.stringify(reply.body);
    for (const secret of [saver.paymentMethod, saver.customer, "re_secret_", "refund-key-", admin.id]) {
      expect(text).not.toContain(secret);
    }
    for (const theirs of [other.saver.id, other.paymentId, other.attempt?.id ?? "none"]) {
      expect(text).not.toContain(theirs);
    }
  });

  it("a user who never opted in: null settings and empty sections", async () => {
    const user = await signUp(server.url, "gdpr-plain");
    const reply = await call(server.url, "GET", "/api/v1/gdpr/export", { cookie: user.cookie });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ autoTopUp: null, autoTopUpAttempts: [], refunds: [] });
  });

  // Review11: a payment's money in the export is what was paid, with the discount and tax the
  // session recorded, not only the price.
  it("each payment says what was paid, and its discount and tax (0 without), once credited", async () => {
    const user = await signUp(server.url, "gdpr-paid");
    const purchase = await startPurchase(server, "standard", user.id);
    const event = sessionEvent(mock, purchase.sessionId, "checkout.session.completed", {
      paymentIntent: purchase.paymentIntent,
      overrides: {
        amount_subtotal: 2_000,
        amount_total: 1_800,
        total_details: { amount_discount: 500, amount_shipping: 0, amount_tax: 300 },
      },
    });
    expect((await deliver(server.url, event)).status).toBe(200);
    const plain = await startPurchase(server, "starter", user.id);
    const plainPaid = sessionEvent(mock, plain.sessionId, "checkout.session.completed", {
      paymentIntent: plain.paymentIntent,
    });
    expect((await deliver(server.url, plainPaid)).status).toBe(200);
    const unpaid = await startPurchase(server, "starter", user.id);

    const reply = await call(server.url, "GET", "/api/v1/gdpr/export", { cookie: user.cookie });
    expect(reply.status).toBe(200);
    const byId = new Map(reply.body.payments.map((p: { id: string }) => [p.id, p]));
    expect(byId.get(purchase.paymentId)).toMatchObject({
      amountMinor: 2_000,
      amountPaidMinor: 1_800,
      amountDiscountMinor: 500,
      amountTaxMinor: 300,
    });
    // Credited without a code or tax: 0 recorded, not null.
    expect(byId.get(plain.paymentId)).toMatchObject({
      amountPaidMinor: 500,
      amountDiscountMinor: 0,
      amountTaxMinor: 0,
    });
    // Not paid yet: nothing paid, no discount or tax known.
    expect(byId.get(unpaid.paymentId)).toMatchObject({
      amountMinor: 500,
      amountPaidMinor: null,
      amountDiscountMinor: null,
      amountTaxMinor: null,
    });
  });
});
