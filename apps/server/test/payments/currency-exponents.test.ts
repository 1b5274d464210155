// Zero- and three-decimal currencies through Stripe (msw): a pack priced in JPY and in KWD is
// bought and refunded with amounts in the currency's own minor unit, exactly as Stripe takes them
// (¥1,200 is 1200, KWD 1.250 is 1250), never scaled by 100.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { packOnSale } from "./catalogue-helpers.ts";
import {
  adminWithKey,
  balanceOf,
  call,
  charge,
  deliver,
  failOnLoggedError,
  paymentRow,
  randomStripeId,
  sessionEvent,
  sessionIdOf,
  signUp,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";
import { createAdmin, refund } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer({ ...stripeEnv, ADMIN_REFUND_APPROVAL_MINOR: "jpy:100000,kwd:100000" });
failOnLoggedError();
const catalogueAdmin = await adminWithKey(server, ["credits:read"]);
const admin = await createAdmin(server);

const pack = await packOnSale(server, catalogueAdmin, {
  name: "Exponents",
  credits: 1_000,
  prices: [
    { currency: "jpy", unitAmount: 1_200 },
    { currency: "kwd", unitAmount: 1_250 },
  ],
});

describe("zero- and three-decimal currencies through Stripe", () => {
  it.each([
    ["jpy", 1_200, 300, "¥300"],
    ["kwd", 1_250, 125, "KWD\u00a00.125"],
  ] as const)(
    "%s: checkout sends %i, a refund of %i is sent as is and takes back its share",
    async (currency, price, part, shown) => {
      const buyer = await signUp(server.url, `exponent-${currency}`);
      const started = await call(server.url, "POST", "/api/v1/checkout", {
        cookie: buyer.cookie,
        body: { packageId: pack.id, currency, idempotencyKey: randomUUID() },
      });
      expect(started.status, JSON.stringify(started.body)).toBe(201);
      const sessionId = sessionIdOf(started.body.checkoutUrl);
      const [sent] = mock
        .requestsTo("POST", "/v1/checkout/sessions")
        .filter((r) => r.params.client_reference_id === started.body.paymentId);
      expect(sent?.params).toMatchObject({
        "line_items[0][price_data][currency]": currency,
        "line_items[0][price_data][unit_amount]": String(price),
      });

      const paymentIntent = randomStripeId("pi");
      const completed = sessionEvent(mock, sessionId, "checkout.session.completed", { paymentIntent });
      expect((await deliver(server.url, completed)).status).toBe(200);
      mock.addCharge(charge({ id: randomStripeId("ch"), amount: price, currency, payment_intent: paymentIntent }));
      expect(await paymentRow(started.body.paymentId)).toMatchObject({
        status: "paid",
        amountMinor: price,
        currency,
        amountPaidMinor: price,
      });
      expect(await balanceOf(buyer.id)).toBe(1_000);

      const partial = await refund(server, admin, started.body.paymentId, { amount: part });
      expect(partial.status, JSON.stringify(partial.body)).toBe(200);
      expect(partial.body).toMatchObject({ amount: part, currency, status: "succeeded" });
      const refunds = mock.requestsTo("POST", "/v1/refunds").filter((r) => r.params.payment_intent === paymentIntent);
      expect(refunds.map((r) => r.params.amount)).toEqual([String(part)]);
      expect(await balanceOf(buyer.id)).toBe(1_000 - Math.floor((1_000 * part) / price));

      // The rest, to the last minor unit.
      const rest = await refund(server, admin, started.body.paymentId, {});
      expect(rest.body).toMatchObject({ amount: price - part, status: "succeeded" });
      expect(await paymentRow(started.body.paymentId)).toMatchObject({
        status: "refunded",
        amountRefundedMinor: price,
      });
      expect(await balanceOf(buyer.id)).toBe(0);

      // The buyer's history says the money in the currency's own digits.
      const history = await call(server.url, "GET", "/api/v1/me/credits?limit=10", { cookie: buyer.cookie });
      expect(JSON.stringify(history.body)).toContain(shown);
    },
  );
});
