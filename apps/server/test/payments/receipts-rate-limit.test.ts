// Review F7: a receipt read that asks Stripe (the receipt not known yet) is limited per user, as
// checkouts are: RateLimit headers of the "receipt" policy, then a 429 that reaches Stripe no more.
import { describe, expect, it } from "vitest";
import {
  call,
  deliver,
  failOnLoggedError,
  purchaseEvents,
  signUp,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";
import { paidPurchase } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer({ ...stripeEnv, CHECKOUT_RATE_LIMIT_PER_MINUTE: "3" });
failOnLoggedError();

// Paid, but Stripe does not know the charge yet: every read asks again.
async function paidWithoutReceipt() {
  const user = await signUp(server.url, "receipts");
  const purchase = await startPurchase(server, "starter", user.id);
  expect((await deliver(server.url, purchaseEvents(mock, purchase).completed())).status).toBe(200);
  const asked = () => mock.requestsTo("GET", `/v1/payment_intents/${purchase.paymentIntent}`).length;
  return { user, purchase, asked };
}

describe("F7: receipt reads that reach Stripe are rate-limited per user", () => {
  it("receipt and payment reads count against the receipt policy; past it, 429 and Stripe is not asked", async () => {
    const { user, purchase, asked } = await paidWithoutReceipt();
    const receipt = `/api/v1/payments/${purchase.paymentId}/receipt`;
    for (const [path, left] of [
      [receipt, 2],
      [`/api/v1/payments/${purchase.paymentId}`, 1],
      [receipt, 0],
    ] as const) {
      const reply = await call(server.url, "GET", path, { cookie: user.cookie });
      expect(reply.status, JSON.stringify(reply.body)).toBe(200);
      expect(reply.headers.get("ratelimit-policy")).toBe('"receipt";q=3;w=60');
      expect(reply.headers.get("ratelimit")).toMatch(new RegExp(`^"receipt";r=${left};t=\\d+$`));
    }
    expect(asked()).toBe(3);
    const refused = await call(server.url, "GET", receipt, { cookie: user.cookie });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe("RATE_LIMITED");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(refused.headers.get("ratelimit")).toMatch(/^"receipt";r=0;t=\d+$/);
    expect(asked()).toBe(3);

    // Another user's reads are theirs to count.
    const other = await paidWithoutReceipt();
    const theirs = await call(server.url, "GET", `/api/v1/payments/${other.purchase.paymentId}/receipt`, {
      cookie: other.user.cookie,
    });
    expect(theirs.status).toBe(200);
  });

  it("a receipt already stored is answered from our row: not counted, no headers", async () => {
    const user = await signUp(server.url, "receipts-known");
    const purchase = await paidPurchase(server, mock, "starter", user.id);
    for (let i = 0; i < 5; i++) {
      const reply = await call(server.url, "GET", `/api/v1/payments/${purchase.paymentId}/receipt`, {
        cookie: user.cookie,
      });
      expect(reply.status).toBe(200);
      expect(reply.body.receiptUrl).toMatch(/^https:\/\//);
      // The first read asked Stripe (and counted); the rest come from the stored receipt.
      expect(reply.headers.get("ratelimit") === null).toBe(i > 0);
    }
  });
});
