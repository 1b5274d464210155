// The same rules on the local test-mode provider (no STRIPE_SECRET_KEY): the erasure expires the
// user's open checkout there (its checkout.session.expired closes the payment), and a checkout
// paid while the erasure ran is credited and refunded in full by the erasure worker, the local
// provider's charge.refunded following as Stripe's would.
import type { LocalProvider } from "@credits/stripe";
import { describe, expect, it } from "vitest";
import { balanceOf, insertUser, ledgerOf, pack, paymentRow, sessionIdOf, startTestServer } from "./helpers.ts";

const server = await startTestServer();
const { gdpr, payments } = server.services;
const provider = server.services.provider as LocalProvider;

const erase = (userId: string) => gdpr.erase({ userId, actorId: null, reason: "request by email" });

async function localCheckout() {
  const userId = await insertUser("local-erased");
  const started = await payments.createCheckout(userId, (await pack("starter")).id);
  return { userId, paymentId: started.paymentId, sessionId: sessionIdOf(started.checkoutUrl) };
}

describe("erasure on the local provider", () => {
  it("expires the user's open checkout there; the payment closes expired", async () => {
    const { userId, paymentId, sessionId } = await localCheckout();

    await erase(userId);

    expect((await provider.retrieveCheckoutSession(sessionId)).status).toBe("expired");
    expect(provider.complete(sessionId, "pay")).toBeNull();
    expect(await paymentRow(paymentId)).toMatchObject({ status: "expired", creditedAt: null });
  });

  it("a checkout paid while the erasure ran is credited, then refunded in full by the worker", async () => {
    const { userId, paymentId, sessionId } = await localCheckout();
    // Paid on the local page; its events reach the handler only after the erasure.
    const completion = provider.complete(sessionId, "pay");
    await erase(userId);
    for (const event of completion?.events ?? []) await payments.handleEvent(event, JSON.stringify(event));
    expect(await balanceOf(userId)).toBeGreaterThan(0);

    await gdpr.runErasureTasks();

    expect(await balanceOf(userId)).toBe(0);
    expect((await ledgerOf(paymentId)).map((row) => row.kind)).toEqual(["purchase", "refund_clawback"]);
    expect(await paymentRow(paymentId)).toMatchObject({ status: "refunded" });
  });
});
