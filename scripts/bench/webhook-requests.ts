import { checkoutSessionEvent, signedWebhook } from "@credits/stripe/testing";
import type { Request } from "autocannon";

// The webhook scenario's requests: one Stripe checkout.session.completed a request, as Stripe sends
// it (the fixture's full session), compact JSON and signed, for each open payment in turn.
export function webhookRequests(options: {
  paymentIds: readonly string[];
  runId: string;
  amountMinor: number;
  currency: string;
  secret: string;
}) {
  const { paymentIds, runId } = options;
  let delivery = 0;
  return (req: Request): Request => {
    const paymentId = paymentIds[delivery % paymentIds.length] as string;
    delivery += 1;
    const event = checkoutSessionEvent(
      "checkout.session.completed",
      {
        id: `cs_test_bench_${runId}_${delivery}`,
        client_reference_id: paymentId,
        metadata: { paymentId },
        amount_total: options.amountMinor,
        currency: options.currency,
        customer: null,
        payment_intent: `pi_bench_${runId}_${delivery}`,
      },
      { id: `evt_bench_${runId}_${delivery}` },
    );
    const { body, signature } = signedWebhook(JSON.stringify(event), options.secret);
    return {
      ...req,
      method: "POST",
      path: "/webhooks/stripe",
      headers: { "content-type": "application/json", "stripe-signature": signature },
      body,
    };
  };
}
