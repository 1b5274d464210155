// Shared by the refusal tests (negative*.test.ts): a server with the Stripe mock, buying and
// delivering, and what a refused webhook must leave behind.
import { expect } from "vitest";
import {
  deliver,
  failOnLoggedError,
  ledgerRowCount,
  paymentCount,
  processedEventCount,
  type Reply,
  type StripeJson,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
  transitionCount,
} from "./helpers.ts";

export const { mock } = startStripeMock();
export const server = await startTestServer(stripeEnv);

failOnLoggedError();

export const buy = (slug: "starter" | "standard" | "pro" = "starter") => startPurchase(server, slug);
export const send = (event: StripeJson | string) => deliver(server.url, event);

// Counts of everything a webhook may write.
export async function footprint() {
  return {
    inbox: await processedEventCount(),
    ledger: await ledgerRowCount(),
    payments: await paymentCount(),
    transitions: await transitionCount(),
  };
}

export function expectInvalidSignature(reply: Reply, message: RegExp) {
  expect(reply.status).toBe(400);
  expect(reply.body).toEqual({ error: { code: "INVALID_SIGNATURE", message: expect.stringMatching(message) } });
}

// Its own outcome: the signature was good, the payload is not (webhook_events_total counts it as
// bad_payload, not as a forged delivery).
export function expectInvalidPayload(reply: Reply, message: RegExp) {
  expect(reply.status).toBe(400);
  expect(reply.body).toEqual({ error: { code: "INVALID_PAYLOAD", message: expect.stringMatching(message) } });
}
