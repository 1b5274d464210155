import { randomBytes } from "node:crypto";
import { HttpResponse } from "msw";
import type { StripeJson } from "../fixtures/stripe-events.ts";

// What charging a saved card does: pays, is declined, or needs the customer (3-D Secure).
export type CardOutcome = "succeeded" | "card_declined" | "authentication_required";

// Runs before a new PaymentIntent is answered; a response it returns replaces the answer.
export type IntentHook = (intent: StripeJson) => Promise<Response | undefined>;

export const metadataOf = (params: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(params)
      .filter(([key]) => key.startsWith("metadata["))
      .map(([key, value]) => [key.slice("metadata[".length, -1), value]),
  );

// A PaymentIntent as Stripe answers its create: itself when it succeeded, else a 402 card error
// carrying it.
export function intentAnswer(intent: StripeJson, headers: Record<string, string> = {}) {
  const all = { "Request-Id": `req_${randomBytes(7).toString("hex")}`, ...headers };
  if (intent.status === "succeeded") return HttpResponse.json(intent, { headers: all });
  const error = intent.last_payment_error as StripeJson;
  return HttpResponse.json({ error: { ...error, payment_intent: intent } }, { status: 402, headers: all });
}
