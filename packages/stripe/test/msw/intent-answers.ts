import { randomBytes } from "node:crypto";
import { HttpResponse } from "msw";
import { randomStripeId, type StripeJson, stripeFixture } from "../fixtures/stripe-events.ts";

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

// A new off-session PaymentIntent (create with confirm), as the card makes it end.
export function offSessionIntent(params: Record<string, string>, outcome: CardOutcome): StripeJson {
  return stripeFixture("payment_intent", {
    id: randomStripeId("pi"),
    amount: Number(params.amount),
    amount_received: outcome === "succeeded" ? Number(params.amount) : 0,
    currency: params.currency ?? null,
    customer: params.customer ?? null,
    payment_method: params.payment_method ?? null,
    confirmation_method: "automatic",
    setup_future_usage: null,
    status: outcome === "succeeded" ? "succeeded" : "requires_payment_method",
    last_payment_error:
      outcome === "succeeded"
        ? null
        : {
            type: "card_error",
            code: outcome,
            message: `mock: ${outcome}`,
            ...(outcome === "card_declined" ? { decline_code: "generic_decline" } : {}),
          },
    metadata: metadataOf(params),
    created: Math.floor(Date.now() / 1000),
  });
}

// Stripe's answer to a request under an idempotency key whose first request is still running: 409
// (the SDK retries a 409 itself, then throws it).
export const keyInUse = () =>
  HttpResponse.json(
    {
      error: {
        type: "idempotency_error",
        code: "idempotency_key_in_use",
        message: "There is currently another in-progress request using this idempotency key. Please try again later.",
      },
    },
    { status: 409 },
  );
