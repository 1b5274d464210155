// The receipt page of a Stripe payment sends the browser to Stripe's hosted receipt (the charge's
// receipt_url, stored on the payment): GET /receipts/{paymentId} answers a redirect there, for
// the payment's owner only. No Stripe call is made: the receipt is already known.
import { payments } from "@credits/db/schema";
import { testDb } from "@credits/db/test-setup";
import { describe, expect, test } from "vitest";
import { createUser, PASSWORD, startWebServer } from "./harness.ts";

const server = await startWebServer({
  STRIPE_SECRET_KEY: "sk_test_receipt_redirect_7d2c",
  STRIPE_WEBHOOK_SECRET: "whsec_test_receipt_redirect_7d2c",
  // Unreachable: a request to Stripe would fail the page, not pass.
  STRIPE_API_BASE: "http://stripe.test",
});
const RECEIPT = "https://pay.stripe.com/receipts/payment/CAcaFwoVYWNjdF90ZXN0X3JlY2VpcHQ";

async function logIn(email: string): Promise<string> {
  const reply = await fetch(`${server.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: server.url },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(reply.status).toBe(200);
  return reply.headers.getSetCookie()[0]?.split(";")[0] ?? "";
}

// A payment Stripe charged and reported the receipt of.
async function paidStripePayment(userId: string): Promise<string> {
  const pack = await testDb.db.query.creditPackages.findFirst({ where: (p, { eq }) => eq(p.slug, "starter") });
  const [row] = await testDb.db
    .insert(payments)
    .values({
      userId,
      packageId: pack?.id ?? "",
      credits: 100,
      amountMinor: 500,
      currency: "usd",
      provider: "stripe",
      status: "paid",
      providerPaymentIntentId: `pi_test_receipt_${Date.now()}`,
      receiptUrl: RECEIPT,
      creditedAt: new Date(),
    })
    .returning({ id: payments.id });
  return row?.id ?? "";
}

const page = (path: string, cookie: string) =>
  fetch(`${server.url}${path}`, { headers: { cookie }, redirect: "manual" });

describe("the receipt of a Stripe payment", () => {
  test("GET /receipts/{id} redirects its owner to Stripe's receipt; anyone else gets 404", async () => {
    const owner = await createUser(server, "receipt-owner", "user");
    const stranger = await createUser(server, "receipt-stranger", "user");
    const paymentId = await paidStripePayment(owner.id);

    const answer = await page(`/receipts/${paymentId}`, await logIn(owner.email));
    expect(answer.status).toBe(302);
    expect(answer.headers.get("location")).toBe(RECEIPT);

    expect((await page(`/receipts/${paymentId}`, await logIn(stranger.email))).status).toBe(404);
  });
});
