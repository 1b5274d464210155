// The setting of the expired-credits tests (ADR 009, "Clawbacks after expiry"): a real server
// selling a pack whose credits expire one day after the payment, and the same services built with
// a clock two days ahead ("Tests move time", services.ts), which apply later events as the server
// would two days later. Balances are read at that clock (the expiry is recorded by the next
// posting or sweep, not by a read).
import { randomUUID } from "node:crypto";
import type { Clock } from "@credits/core";
import { parseEnv } from "@credits/env";
import { expect } from "vitest";
import { createServices } from "../../src/services.ts";
import {
  charge,
  deliver,
  failOnLoggedError,
  insertUser,
  type Purchase,
  purchaseEvents,
  query,
  randomStripeId,
  sessionIdOf,
  signedWebhook,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
  testDb,
  WEBHOOK_SECRET,
} from "./helpers.ts";
import { createAdmin } from "./refunds-helpers.ts";

const DAY = 86_400_000;

export async function expiringCreditsSetting() {
  const { mock } = startStripeMock();
  // The server's own grant sweep (real clock) stays out of the way: the tests sweep and settle at
  // the later clock, and assert what each pass did.
  const server = await startTestServer({ ...stripeEnv, EXPIRY_SWEEP_INTERVAL_SECONDS: "86400" });
  const admin = await createAdmin(server);
  failOnLoggedError();
  const twoDaysLater: Clock = { now: () => new Date(Date.now() + 2 * DAY) };
  const later = createServices(parseEnv({ NODE_ENV: "test", PUBLIC_URL: "http://localhost:3000", ...stripeEnv }), {
    db: testDb.db,
    clock: twoDaysLater,
  });

  // A pack whose credits expire one day after the payment (the shortest the catalogue allows).
  const expiring = await server.services.catalog.create(
    { actorId: admin.id },
    {
      name: `Expiring ${randomUUID().slice(0, 8)}`,
      credits: 100,
      prices: [{ currency: "usd", unitAmount: 1000 }],
      creditExpiryDays: 1,
      position: 0,
      highlight: false,
    },
  );

  async function buyExpiring(userId: string): Promise<Purchase> {
    const { paymentId, checkoutUrl } = await server.services.payments.createCheckout(userId, expiring.id);
    const purchase: Purchase = {
      userId,
      paymentId,
      sessionId: sessionIdOf(checkoutUrl),
      paymentIntent: randomStripeId("pi"),
      chargeId: randomStripeId("ch"),
      credits: 100,
      amountMinor: 1000,
    };
    expect((await deliver(server.url, purchaseEvents(mock, purchase).completed())).status).toBe(200);
    mock.addCharge(
      charge({ id: purchase.chargeId, amount: 1000, amount_refunded: 0, payment_intent: purchase.paymentIntent }),
    );
    return purchase;
  }

  // Stripe's event, applied two days later by the same code the webhook route runs.
  async function applyLater(event: Record<string, unknown>) {
    const { body, signature } = signedWebhook(event, WEBHOOK_SECRET);
    const parsed = later.provider.parseWebhook(body, signature);
    return later.payments.handleEvent(parsed, body);
  }

  // A user with the expiring pack, `amount` of it held by a hold that outlives the expiry, and
  // another pack (500, no expiry) bought after it.
  async function holdAcrossExpiry(label: string, amount: number) {
    const userId = await insertUser(label);
    const expiring = await buyExpiring(userId);
    const held = await server.services.credits.hold({
      userId,
      amount,
      idempotencyKey: randomUUID(),
      scope: { kind: "user", id: userId },
      ttlSeconds: 7 * 24 * 3_600,
    });
    const other = await startPurchase(server, "standard", userId);
    expect((await deliver(server.url, purchaseEvents(mock, other).completed())).status).toBe(200);
    return { userId, expiring, holdId: held.hold.id, others: other.credits };
  }

  // The grant sweep's second step as the server runs it; a settle that fails fails the test.
  const settleAfterExpiry = () =>
    later.payments.settleAfterExpiry((error) => {
      throw error;
    });

  return { mock, server, admin, later, buyExpiring, applyLater, holdAcrossExpiry, settleAfterExpiry };
}

// Whether the payment is noted for the expiry settles (0050): 0 or 1.
export const noted = async (paymentId: string) =>
  (
    await query<{ n: number }>(
      `SELECT count(*)::int AS n FROM payment_expiry_settles WHERE payment_id = '${paymentId}'`,
    )
  )[0]?.n;
