import { MAX_REFUNDS_LISTED, type RefundInfo, type RefundRequest } from "@credits/core";
import type Stripe from "stripe";
import { toRefund } from "./stripe-mapping.ts";

// Stripe's refunds API, in our shapes (the provider's `call` wraps each in its span and errors).

// The charge comes back expanded: its cumulative amount_refunded is the fact charge.refunded reports.
export async function createRefund(stripe: Stripe, request: RefundRequest): Promise<RefundInfo> {
  if (!Number.isSafeInteger(request.amountMinor) || request.amountMinor <= 0) {
    throw new Error("refund amountMinor must be a positive integer");
  }
  const created = await stripe.refunds.create(
    {
      payment_intent: request.paymentIntentId,
      amount: request.amountMinor,
      metadata: request.metadata,
      expand: ["charge"],
    },
    { idempotencyKey: request.idempotencyKey },
  );
  return toRefund(created);
}

// One page: a payment has a few refunds, and more than MAX_REFUNDS_LISTED is refused. Each with
// its charge expanded, as create answers it: a refund found here stands for its lost answer.
export async function listRefunds(stripe: Stripe, paymentIntentId: string): Promise<RefundInfo[]> {
  const page = await stripe.refunds.list({
    payment_intent: paymentIntentId,
    limit: MAX_REFUNDS_LISTED,
    expand: ["data.charge"],
  });
  if (page.has_more) throw new Error(`refund list: over ${MAX_REFUNDS_LISTED} refunds for one payment`);
  return page.data.map(toRefund);
}
