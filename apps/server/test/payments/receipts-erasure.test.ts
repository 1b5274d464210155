// Hostile review 6 (GDPR): erasure and the stored Stripe receipt link.
import { describe, expect, it } from "vitest";
import {
  call,
  charge,
  failOnLoggedError,
  paymentRow,
  signUp,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";
import { createAdmin, paidPurchase } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
failOnLoggedError();

describe("review6 F5: erasure and the stored Stripe receipt link", () => {
  it("after erasure no receipt link (Stripe's page shows the erased person's email and card) is kept or fetched", async () => {
    const user = await signUp(server.url);
    const admin = await createAdmin(server);
    const stored = await paidPurchase(server, mock, "standard", user.id);
    // The user looked at their receipt once: Stripe's receipt_url is now stored on the payment.
    expect(
      (await call(server.url, "GET", `/api/v1/payments/${stored.paymentId}`, { cookie: user.cookie })).status,
    ).toBe(200);
    expect((await paymentRow(stored.paymentId)).receiptUrl).toBe(String(charge().receipt_url));
    const never = await paidPurchase(server, mock, "starter", user.id);
    const erased = await call(server.url, "POST", `/api/v1/admin/users/${user.id}/erase`, {
      cookie: admin.cookie,
      body: { reason: "GDPR request" },
    });
    expect(erased.status, JSON.stringify(erased.body)).toBe(200);
    // Today: the stored link survives erasure...
    const keptAfterErasure = (await paymentRow(stored.paymentId)).receiptUrl;
    // ...and an admin reading the other payment's receipt makes the app fetch and store a new one.
    const receipt = await call(server.url, "GET", `/api/v1/payments/${never.paymentId}/receipt`, {
      cookie: admin.cookie,
    });
    expect(receipt.body.receiptUrl ?? null).toBeNull();
    expect((await paymentRow(never.paymentId)).receiptUrl).toBeNull();
    expect(keptAfterErasure).toBeNull();
  });
});
