import type { RefundStore } from "./refund-store.ts";
import { chargedMinor } from "./state.ts";
import type { Payment, PaymentStore } from "./store.ts";

// A promotion code's fulfilment (ADR 021). With STRIPE_ALLOW_PROMOTION_CODES any code in the
// Stripe account lowers the price, down to nothing, and the pack is credited all the same: the
// customer did what Stripe allowed, so crediting is never held back. But credits nobody paid for
// would need a second admin when granted by hand, so the code's share of the pack is measured
// against the adjustments' approval threshold (ADMIN_APPROVAL_THRESHOLD), and a purchase above
// it is flagged for a person to check the code.

// The credits a promotion code gave away: the pack's credits in proportion to the discount's share
// of the price (all of them when it took the whole price, its tax included), rounded down.
export function unpaidCredits(payment: Payment): number {
  const discount = payment.amountDiscountMinor ?? 0;
  const price = payment.amountSubtotalMinor ?? payment.amountMinor;
  if (discount <= 0) return 0;
  if (price <= 0 || chargedMinor(payment) === 0) return payment.credits;
  return Math.min(payment.credits, Math.floor((payment.credits * discount) / price));
}

export function promotionReview(payment: Payment, threshold: number): string | null {
  const unpaid = unpaidCredits(payment);
  if (unpaid <= threshold) return null;
  const paid = chargedMinor(payment);
  return (
    `a promotion code took ${payment.amountDiscountMinor} of ${payment.amountMinor} ${payment.currency} ` +
    `(paid ${paid}): ${unpaid} of its ${payment.credits} credits unpaid, above the approval threshold of ` +
    `${threshold}; credited, check the code`
  );
}

// In the transaction that credits the payment (its amounts just recorded): every discounted
// purchase is audited (payment.promotion_applied), and one whose unpaid credits are above the
// threshold is flagged (reviewReason, shown on the payment in the admin API and panel) and audited
// as payment.promotion_review instead. A review reason already there (a mismatch healed since)
// stays; the cancel page's flag, set after this, takes its place (the audit row stays).
export async function recordPromotion(
  tx: { payments: PaymentStore; refunds: RefundStore },
  paid: Payment,
  threshold: number,
  source: string,
): Promise<void> {
  if ((paid.amountDiscountMinor ?? 0) <= 0) return;
  const reviewReason = promotionReview(paid, threshold);
  if (reviewReason && !paid.reviewReason) await tx.payments.updatePayment(paid.id, { reviewReason });
  await tx.refunds.audit({
    actorId: null,
    targetUserId: paid.userId,
    action: reviewReason ? "payment.promotion_review" : "payment.promotion_applied",
    amount: paid.credits,
    reason: reviewReason,
    requestId: null,
    balanceBefore: null,
    balanceAfter: null,
    adjustmentRequestId: null,
    detail: {
      paymentId: paid.id,
      amountMinor: paid.amountMinor,
      amountPaidMinor: chargedMinor(paid),
      amountDiscountMinor: paid.amountDiscountMinor,
      amountTaxMinor: paid.amountTaxMinor ?? 0,
      currency: paid.currency,
      unpaidCredits: unpaidCredits(paid),
      source,
    },
  });
}
