import { type ProviderEvent, WebhookPayloadError, WebhookSignatureError } from "@credits/core";
import Stripe from "stripe";
import { StripeShapeError, toProviderEvent } from "./stripe-mapping.ts";

// Stripe's own default tolerance; we apply it in both directions (see below).
export const WEBHOOK_TOLERANCE_SECONDS = 300;
// A real header is `t=<10 digits>` plus one v1 signature per active secret (several during a
// rotation): a few hundred characters. Anything far longer is not worth parsing.
const MAX_SIGNATURE_HEADER_LENGTH = 2_048;

type ConstructEvent = Stripe["webhooks"]["constructEvent"];

// The one `t=` element, as the SDK will read it. The SDK takes the last `t=` with parseInt, so a
// header with two timestamps, or "t=123abc", is refused here rather than interpreted.
function signedAtSeconds(header: string): number {
  const stamps = header
    .split(",")
    .filter((part) => part.startsWith("t="))
    .map((part) => part.slice(2));
  const [stamp] = stamps;
  if (stamps.length !== 1 || stamp === undefined || !/^\d{1,12}$/.test(stamp)) {
    throw new WebhookSignatureError("webhook signature header has no single valid timestamp");
  }
  return Number(stamp);
}

export function parseStripeWebhook(input: {
  rawBody: string;
  signatureHeader: string | null;
  secret: string;
  constructEvent: ConstructEvent;
  nowMs: number;
}): ProviderEvent {
  const { rawBody, signatureHeader, secret, constructEvent, nowMs } = input;
  if (!signatureHeader) throw new WebhookSignatureError("missing Stripe-Signature header");
  if (signatureHeader.length > MAX_SIGNATURE_HEADER_LENGTH) {
    throw new WebhookSignatureError("Stripe-Signature header is too long");
  }
  // constructEvent only rejects old timestamps. A future one is as suspect (a clock far off, or a
  // signature minted to stay replayable for longer), so the window is symmetric.
  if (signedAtSeconds(signatureHeader) > Math.floor(nowMs / 1000) + WEBHOOK_TOLERANCE_SECONDS) {
    throw new WebhookSignatureError("webhook timestamp is too far in the future");
  }

  let event: unknown;
  try {
    event = constructEvent(rawBody, signatureHeader, secret, WEBHOOK_TOLERANCE_SECONDS, undefined, nowMs);
  } catch (error) {
    if (error instanceof Stripe.errors.StripeSignatureVerificationError) {
      // The SDK's message is several lines of advice; the first says what failed. It never
      // contains the secret.
      const reason = (error.message.split("\n")[0] ?? "").trim();
      throw new WebhookSignatureError(`webhook signature verification failed: ${reason}`);
    }
    // constructEvent parses only after the signature checked out, so a parse failure (or its
    // refusal of a v2 "thin" event) means a verified but unusable body.
    if (error instanceof SyntaxError) throw new WebhookPayloadError("webhook body is not valid JSON");
    if (error instanceof Error && error.message.includes("thin event")) {
      throw new WebhookPayloadError("webhook body is a v2 thin event, not a snapshot event");
    }
    throw new WebhookSignatureError("webhook could not be verified");
  }

  try {
    return toProviderEvent(event);
  } catch (error) {
    if (error instanceof StripeShapeError) throw new WebhookPayloadError(`invalid webhook event: ${error.message}`);
    throw error;
  }
}
