// Receipts through real HTTP: a paid Stripe payment's receiptUrl is its charge's receipt_url
// (asked for once, with latest_charge expanded, from the msw Stripe mock, or taken from a
// charge.refunded that carried it), stored; the receipt procedure answers the owner and admins
// only; the local provider's receipt is the app's own page (the browser test follows the link).
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  call,
  charge,
  deliver,
  failOnLoggedError,
  pack,
  paymentRow,
  purchaseEvents,
  sessionIdOf,
  signUp,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
  type TestUser,
} from "./helpers.ts";
import { createAdmin, paidPurchase } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
const local = await startTestServer();
failOnLoggedError();

const receiptOfCharge = String(charge().receipt_url);
const intentRequests = (paymentIntent: string) => mock.requestsTo("GET", `/v1/payment_intents/${paymentIntent}`);

async function buyer(base = server.url): Promise<TestUser> {
  return signUp(base);
}

describe("receipts of Stripe payments", () => {
  it("GET /payments/{id} adds the charge's receipt_url, asked from Stripe once and then stored", async () => {
    const user = await buyer();
    const purchase = await paidPurchase(server, mock, "standard", user.id);
    const first = await call(server.url, "GET", `/api/v1/payments/${purchase.paymentId}`, { cookie: user.cookie });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ credited: true, receiptUrl: receiptOfCharge });
    expect(receiptOfCharge).toMatch(/^https:\/\//);
    const [asked] = intentRequests(purchase.paymentIntent);
    expect(asked?.query).toMatchObject({ "expand[0]": "latest_charge" });
    expect((await paymentRow(purchase.paymentId)).receiptUrl).toBe(receiptOfCharge);

    const again = await call(server.url, "GET", `/api/v1/payments/${purchase.paymentId}`, { cookie: user.cookie });
    expect(again.body.receiptUrl).toBe(receiptOfCharge);
    expect(intentRequests(purchase.paymentIntent)).toHaveLength(1);
    const list = await call(server.url, "GET", "/api/v1/me/payments", { cookie: user.cookie });
    expect(list.body.payments).toEqual([
      expect.objectContaining({ id: purchase.paymentId, receiptUrl: receiptOfCharge }),
    ]);
  });

  it("an unpaid payment has no receipt, and Stripe is not asked", async () => {
    const user = await buyer();
    const purchase = await startPurchase(server, "starter", user.id);
    const reply = await call(server.url, "GET", `/api/v1/payments/${purchase.paymentId}`, { cookie: user.cookie });
    expect(reply.body).toMatchObject({ credited: false, receiptUrl: null });
    expect(intentRequests(purchase.paymentIntent)).toHaveLength(0);
    const receipt = await call(server.url, "GET", `/api/v1/payments/${purchase.paymentId}/receipt`, {
      cookie: user.cookie,
    });
    expect(receipt.status).toBe(404);
  });

  it("a charge.refunded carrying receipt_url stores it without asking Stripe", async () => {
    const user = await buyer();
    const purchase = await paidPurchase(server, mock, "standard", user.id);
    const refunded = await deliver(server.url, purchaseEvents(mock, purchase).refunded(100));
    expect(refunded.status).toBe(200);
    expect((await paymentRow(purchase.paymentId)).receiptUrl).toBe(receiptOfCharge);
    await call(server.url, "GET", `/api/v1/payments/${purchase.paymentId}`, { cookie: user.cookie });
    expect(intentRequests(purchase.paymentIntent)).toHaveLength(0);
  });

  it("Stripe not answering: the payment is answered without a receipt, and asked again next time", async () => {
    const user = await buyer();
    const purchase = await paidPurchase(server, mock, "standard", user.id);
    mock.failWith("500");
    try {
      const reply = await call(server.url, "GET", `/api/v1/payments/${purchase.paymentId}`, { cookie: user.cookie });
      expect(reply.status).toBe(200);
      expect(reply.body).toMatchObject({ credited: true, receiptUrl: null });
    } finally {
      mock.failWith(null);
    }
    const later = await call(server.url, "GET", `/api/v1/payments/${purchase.paymentId}`, { cookie: user.cookie });
    expect(later.body.receiptUrl).toBe(receiptOfCharge);
  });

  it("the receipt: the owner and admins see it; anyone else, a 404", async () => {
    const user = await buyer();
    const purchase = await paidPurchase(server, mock, "pro", user.id);
    const pro = await pack("pro");
    const path = `/api/v1/payments/${purchase.paymentId}/receipt`;
    const mine = await call(server.url, "GET", path, { cookie: user.cookie });
    expect(mine.status).toBe(200);
    expect(mine.body).toEqual({
      paymentId: purchase.paymentId,
      packageName: pro.name,
      credits: pro.credits,
      amountMinor: pro.priceMinor,
      priceMinor: pro.priceMinor,
      discountMinor: 0,
      taxMinor: 0,
      currency: pro.currency,
      paidAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      receiptUrl: receiptOfCharge,
      hostedByProvider: true,
    });
    const admin = await createAdmin(server);
    expect((await call(server.url, "GET", path, { cookie: admin.cookie })).body).toEqual(mine.body);
    const other = await buyer();
    const refused = await call(server.url, "GET", path, { cookie: other.cookie });
    expect(refused.status).toBe(404);
    expect(refused.body).toEqual({ error: { code: "NOT_FOUND", message: expect.any(String) } });
    const unknown = await call(server.url, "GET", `/api/v1/payments/${randomUUID()}/receipt`, { cookie: user.cookie });
    expect(unknown.status).toBe(404);
  });
});

describe("receipts of local payments", () => {
  it("the receipt is the app's own page: pack, credits, amount, date and payment id, for the owner and admins", async () => {
    const user = await buyer(local.url);
    const standard = await pack("standard");
    const started = await call(local.url, "POST", "/api/v1/checkout", {
      cookie: user.cookie,
      body: { packageId: standard.id },
    });
    const { paymentId, checkoutUrl } = started.body as { paymentId: string; checkoutUrl: string };
    await call(local.url, "POST", `/checkout/local/${sessionIdOf(checkoutUrl)}/pay`);
    const payment = await call(local.url, "GET", `/api/v1/payments/${paymentId}`, { cookie: user.cookie });
    expect(payment.body).toMatchObject({ credited: true, receiptUrl: `http://localhost:3000/receipts/${paymentId}` });

    // The app's own page (apps/web receipts.$paymentId; the browser test follows it).
    const receipt = await call(local.url, "GET", `/api/v1/payments/${paymentId}/receipt`, { cookie: user.cookie });
    expect(receipt.body).toMatchObject({
      paymentId,
      packageName: standard.name,
      credits: standard.credits,
      amountMinor: standard.priceMinor,
      currency: "usd",
      receiptUrl: `http://localhost:3000/receipts/${paymentId}`,
      hostedByProvider: false,
    });
    const admin = await createAdmin(local);
    const path = `/api/v1/payments/${paymentId}/receipt`;
    expect((await call(local.url, "GET", path, { cookie: admin.cookie })).status).toBe(200);
    const other = await buyer(local.url);
    expect((await call(local.url, "GET", path, { cookie: other.cookie })).status).toBe(404);
    expect(
      (await call(local.url, "GET", "/api/v1/payments/not-a-payment/receipt", { cookie: user.cookie })).status,
    ).toBe(400);
  });
});
