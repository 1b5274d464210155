// The local provider's checkout page with STRIPE_ALLOW_PROMOTION_CODES (no Stripe key): a code
// taking a quarter of the price and one taking all of it, through real HTTP, credited through the
// same fulfil path as Stripe's; a 100%-off one as Stripe's no-cost order (no PaymentIntent, no
// charge, nothing to refund). Without the setting the page offers no code and refuses one.
import { describe, expect, it } from "vitest";
import { balanceOf, call, pack, paymentRow, sessionIdOf, signUp, startTestServer } from "./helpers.ts";
import { createAdmin, refund } from "./refunds-helpers.ts";

const withCodes = await startTestServer({ STRIPE_ALLOW_PROMOTION_CODES: "true" });
const without = await startTestServer();

async function checkout(base: string) {
  const user = await signUp(base);
  const standard = await pack("standard");
  const started = await call(base, "POST", "/api/v1/checkout", {
    cookie: user.cookie,
    body: { packageId: standard.id },
  });
  expect(started.status).toBe(201);
  const { paymentId, checkoutUrl } = started.body as { paymentId: string; checkoutUrl: string };
  return { user, standard, paymentId, sessionId: sessionIdOf(checkoutUrl) };
}

describe("promotion codes on the local checkout page", () => {
  it("FREE100: credited, paid 0, no PaymentIntent, the receipt shows the code, nothing to refund", async () => {
    const { user, standard, paymentId, sessionId } = await checkout(withCodes.url);
    const page = await call(withCodes.url, "GET", `/checkout/local/${sessionId}`);
    expect(page.body).toContain("/pay_free");
    expect((await call(withCodes.url, "POST", `/checkout/local/${sessionId}/pay_free`)).status).toBe(303);
    expect(await balanceOf(user.id)).toBe(standard.credits);
    expect(await paymentRow(paymentId)).toMatchObject({
      status: "paid",
      amountPaidMinor: 0,
      amountDiscountMinor: standard.priceMinor,
      providerPaymentIntentId: null,
    });
    const receipt = await call(withCodes.url, "GET", `/api/v1/payments/${paymentId}/receipt`, { cookie: user.cookie });
    expect(receipt.body).toMatchObject({ amountMinor: 0, priceMinor: standard.priceMinor, discountMinor: 2_000 });
    const admin = await createAdmin(withCodes);
    expect((await refund(withCodes, admin, paymentId, {})).status).toBe(409);
  });

  it("LOCAL25: a quarter off, credited, the charge refundable for what was paid", async () => {
    const { user, standard, paymentId, sessionId } = await checkout(withCodes.url);
    expect((await call(withCodes.url, "POST", `/checkout/local/${sessionId}/pay_with_code`)).status).toBe(303);
    expect(await balanceOf(user.id)).toBe(standard.credits);
    expect(await paymentRow(paymentId)).toMatchObject({ amountPaidMinor: 1_500, amountDiscountMinor: 500 });
    const admin = await createAdmin(withCodes);
    const full = await refund(withCodes, admin, paymentId, {});
    expect(full.body).toMatchObject({ amount: 1_500, status: "succeeded" });
    expect(await balanceOf(user.id)).toBe(0);
  });

  it("without STRIPE_ALLOW_PROMOTION_CODES: no code offered, one posted anyway is refused", async () => {
    const { user, paymentId, sessionId } = await checkout(without.url);
    expect((await call(without.url, "GET", `/checkout/local/${sessionId}`)).body).not.toContain("pay_free");
    for (const outcome of ["pay_free", "pay_with_code"]) {
      expect((await call(without.url, "POST", `/checkout/local/${sessionId}/${outcome}`)).status).toBe(404);
    }
    expect(await balanceOf(user.id)).toBe(0);
    expect((await paymentRow(paymentId)).creditedAt).toBeNull();
  });
});
