// Review 8 (auto top-up): a flagged credit ends its attempt, the stale worker's race, the
// checkout idempotency key that posed as an auto top-up, and the card of a lost Checkout event.
import { HttpResponse } from "msw";
import { describe, expect, it } from "vitest";
import { attemptsOf, autoTopUpOf, eventsOf, mailsOf, saverWithCard, spend } from "./auto-topup-helpers.ts";
import {
  balanceOf,
  failOnLoggedError,
  paymentRow,
  type StripeJson,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer({ ...stripeEnv, AUTO_TOPUP_MAX_PER_DAY: "2", AUTO_TOPUP_MAX_PER_MONTH: "10" });
failOnLoggedError();

describe("review8 F10: a flagged auto top-up does not stay processing", () => {
  it("Stripe charged another amount: the attempt fails (flagged), the PaymentIntent is kept, auto top-up turned off", async () => {
    const saver = await saverWithCard(server, mock);
    let charged: StripeJson = {};
    // Stripe answers with a PaymentIntent for another amount than the payment's (never expected).
    mock.beforeIntentAnswer(async (intent) => {
      charged = { ...intent, amount: 9_999, amount_received: 9_999 };
      return HttpResponse.json(charged);
    });
    try {
      await spend(server, saver.id, 60);
      await server.services.autoTopUp.runOnce();
    } finally {
      mock.beforeIntentAnswer(null);
    }
    const [attempt] = await attemptsOf(saver.id);
    // Today: processing until the worker gives up 23 hours later, the PaymentIntent id unsaved.
    expect([attempt?.status, attempt?.reason]).toEqual(["failed", "flagged"]);
    const payment = await paymentRow(attempt?.paymentId ?? "");
    expect(payment.providerPaymentIntentId).toBe(charged.id);
    expect(payment.reviewReason).toMatch(/amount mismatch/);
    expect(payment.creditedAt).toBeNull();
    expect(await balanceOf(saver.id)).toBe(40);
    // Charged but not credited: no more off-session charges until the user turns it on again, and
    // no "we could not charge your card" mail (the card was charged).
    expect((await autoTopUpOf(server, saver)).body).toMatchObject({ enabled: false });
    expect(((await autoTopUpOf(server, saver)).body.disabledReason ?? "") as string).toMatch(/review/);
    expect(await mailsOf(saver.id, "auto_topup_failed")).toHaveLength(0);
    expect(await eventsOf(saver.id, "auto_topup.succeeded")).toHaveLength(0);
  });
});
