import type { LedgerStore } from "../ledger.ts";
import type { RefundStore } from "./refund-store.ts";
import { chargedMinor } from "./state.ts";
import type { Payment, PaymentStore } from "./store.ts";

// A promotion code's fulfilment (ADR 021). With STRIPE_ALLOW_PROMOTION_CODES any code in the
// Stripe account lowers the price, down to nothing, and the pack is credited all the same: the
// customer did what Stripe allowed, so crediting is never held back. But credits nobody paid for
// would need a second admin when granted by hand, so the codes' share of the user's packs within
// the adjustments' approval window is measured against their approval threshold
// (ADMIN_APPROVAL_THRESHOLD, ADMIN_APPROVAL_WINDOW_HOURS), and a purchase taking the sum above it
// is flagged for a person to check the codes: one large discount split into small purchases is
// caught as the large one is (review11 F7), as for adjustments (ADR 023).
export interface PromotionRule {
  threshold: number;
  windowMs: number;
}

// The credits a promotion code gave away: the pack's credits in proportion to the discount's share
// of the price (all of them when it took the whole price, its tax included), rounded down for the
// purchase alone (as reported) and up for the window's sum ("up"): rounded down, many tiny
// discounts would each count 0 and never add up. Integer arithmetic, so a share that is a whole
// number is never rounded past it.
export function unpaidCredits(payment: Payment, round: "down" | "up" = "down"): number {
  const discount = payment.amountDiscountMinor ?? 0;
  const price = payment.amountSubtotalMinor ?? payment.amountMinor;
  if (discount <= 0) return 0;
  if (price <= 0 || chargedMinor(payment) === 0) return payment.credits;
  const share = BigInt(payment.credits) * BigInt(discount);
  const rounded = (round === "up" ? share + BigInt(price) - 1n : share) / BigInt(price);
  return Math.min(payment.credits, Number(rounded));
}

// earlier: the credits codes left unpaid on the user's purchases credited before this one within
// the window, each rounded up (unpaidCreditsUp in their audit rows).
export function promotionReview(payment: Payment, rule: PromotionRule, earlier = 0): string | null {
  const unpaid = unpaidCredits(payment);
  const total = earlier + unpaidCredits(payment, "up");
  if (total <= rule.threshold) return null;
  const paid = chargedMinor(payment);
  const took = `a promotion code took ${payment.amountDiscountMinor} of ${payment.amountMinor} ${payment.currency} (paid ${paid})`;
  if (unpaid > rule.threshold)
    return (
      `${took}: ${unpaid} of its ${payment.credits} credits unpaid, above the approval threshold of ` +
      `${rule.threshold}; credited, check the code`
    );
  const hours = Math.round(rule.windowMs / 3_600_000);
  return (
    `${took}: ${unpaid} of its ${payment.credits} credits unpaid, ${total} credits unpaid by promotion codes ` +
    `within ${hours} hours for this user, above the approval threshold of ${rule.threshold}; credited, check the codes`
  );
}

// In the transaction that credits the payment (its amounts just recorded): every discounted
// purchase is audited (payment.promotion_applied), and one taking the user's unpaid credits in the
// window above the threshold is flagged (reviewReason, shown on the payment in the admin API and
// panel) and audited as payment.promotion_review instead. The sum is read under the user's balance
// lock (the purchase's posting holds it; taken again here so the rule does not hang on that), so
// two purchases credited at once cannot both miss the other. A review reason already there (a
// mismatch healed since) stays; the cancel page's flag, set after this, takes its place (the audit
// row stays).
export async function recordPromotion(
  tx: { payments: PaymentStore; refunds: RefundStore; ledger: LedgerStore },
  paid: Payment,
  rule: PromotionRule,
  source: string,
): Promise<void> {
  if ((paid.amountDiscountMinor ?? 0) <= 0) return;
  await tx.ledger.lockBalance(paid.userId);
  const earlier = await tx.payments.unpaidPromotionCredits(paid.userId, rule.windowMs);
  const reviewReason = promotionReview(paid, rule, earlier);
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
      unpaidCreditsUp: unpaidCredits(paid, "up"),
      source,
    },
  });
}
