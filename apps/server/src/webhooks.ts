import {
  PaymentNotYetKnownError,
  type PaymentProvider,
  type PaymentService,
  ProviderUnavailableDomainError,
  ProviderUnavailableError,
  WebhookPayloadError,
  WebhookSignatureError,
} from "@credits/core";
import { boundedLabel, logger, type WebhookOutcome, webhookEvents, withSpan } from "@credits/observability";
import type { Hono } from "hono";
import { errorResponse } from "./http-errors.ts";
import { bodySizeLimit } from "./security.ts";

// Stripe's events are small; anything over this is not from Stripe and is refused unread.
const WEBHOOK_BODY_LIMIT_BYTES = 1_048_576;

// POST /webhooks/stripe: the raw body is verified before anything is parsed. 2xx tells the
// provider to stop (processed, duplicate, ignored); 5xx asks it to deliver again later.
export function mountWebhooks(
  app: Hono<{ Variables: { requestId: string } }>,
  deps: { provider: PaymentProvider; payments: PaymentService },
) {
  app.post("/webhooks/stripe", bodySizeLimit(WEBHOOK_BODY_LIMIT_BYTES, "webhook body over 1 MiB"), (c) =>
    // One span per delivery (event id, type, outcome) and one count in webhook_events_total.
    withSpan("webhook stripe", {}, async (span) => {
      const outcome = (type: string, result: WebhookOutcome) => {
        span.setAttributes({ "app.webhook.event_type": type, "app.webhook.outcome": result });
        webhookEvents.inc({ type: boundedLabel(type), outcome: result });
      };
      const rawBody = await c.req.text();
      let event: ReturnType<PaymentProvider["parseWebhook"]>;
      try {
        event = deps.provider.parseWebhook(rawBody, c.req.header("stripe-signature") ?? null);
      } catch (error) {
        if (error instanceof WebhookSignatureError) {
          outcome("unknown", "bad_signature");
          return errorResponse(400, "INVALID_SIGNATURE", error.message);
        }
        if (error instanceof WebhookPayloadError) {
          outcome("unknown", "bad_payload");
          return errorResponse(400, "INVALID_PAYLOAD", error.message);
        }
        outcome("unknown", "failed");
        throw error;
      }
      const type = event.type === "ignored" ? event.providerType : event.type;
      span.setAttribute("app.webhook.event_id", event.id);
      try {
        const result = await deps.payments.handleEvent(event, rawBody);
        outcome(type, result);
        return c.json({ received: true, outcome: result });
      } catch (error) {
        // Either way the provider delivers it again later.
        outcome(type, "failed");
        if (error instanceof PaymentNotYetKnownError) {
          return errorResponse(503, "NOT_YET_KNOWN", error.message, { headers: { "Retry-After": "60" } });
        }
        // Stripe itself could not be read (the paid session's PaymentIntent for a user waiting for
        // a card, the charge's refunds): nothing was applied; its redelivery (or reconciliation)
        // handles it. Expected while Stripe is down: a warning, not an error report. The documented
        // 503 code for a dependency that is down (UNAVAILABLE): Stripe reads only the status.
        if (error instanceof ProviderUnavailableError || error instanceof ProviderUnavailableDomainError) {
          logger.warn(
            { requestId: c.get("requestId"), eventId: event.id, eventType: boundedLabel(type) },
            "stripe webhook: the payment provider is unreachable, not handled yet",
          );
          return errorResponse(503, "UNAVAILABLE", "the payment provider is unavailable, deliver again", {
            headers: { "Retry-After": "60" },
          });
        }
        throw error;
      }
    }),
  );
}
