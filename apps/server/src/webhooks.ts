import {
  PaymentNotYetKnownError,
  type PaymentProvider,
  type PaymentService,
  WebhookSignatureError,
} from "@credits/core";
import type { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { errorResponse } from "./http-errors.ts";

// Stripe's events are small; anything over this is not from Stripe and is refused unread.
const WEBHOOK_BODY_LIMIT_BYTES = 1_048_576;

// POST /webhooks/stripe: the raw body is verified before anything is parsed. 2xx tells the
// provider to stop (processed, duplicate, ignored); 5xx asks it to deliver again later.
export function mountWebhooks(
  app: Hono<{ Variables: { requestId: string } }>,
  deps: { provider: PaymentProvider; payments: PaymentService },
) {
  app.post(
    "/webhooks/stripe",
    bodyLimit({
      maxSize: WEBHOOK_BODY_LIMIT_BYTES,
      onError: () => errorResponse(413, "PAYLOAD_TOO_LARGE", "webhook body over 1 MiB"),
    }),
    async (c) => {
      const rawBody = await c.req.text();
      let event: ReturnType<PaymentProvider["parseWebhook"]>;
      try {
        event = deps.provider.parseWebhook(rawBody, c.req.header("stripe-signature") ?? null);
      } catch (error) {
        if (error instanceof WebhookSignatureError) return errorResponse(400, "INVALID_SIGNATURE", error.message);
        throw error;
      }
      try {
        const outcome = await deps.payments.handleEvent(event, rawBody);
        return c.json({ received: true, outcome });
      } catch (error) {
        if (error instanceof PaymentNotYetKnownError) {
          return errorResponse(503, "NOT_YET_KNOWN", error.message, { headers: { "Retry-After": "60" } });
        }
        throw error;
      }
    },
  );
}
