import type { PaidFacts } from "../autotopup/intent.ts";
import type { Clock } from "../clock.ts";
import { invariant } from "../invariant.ts";
import { systemKey } from "../ledger-keys.ts";
import { refundIfErased } from "./erasure-refund.ts";
import {
  type FulfilOutcome,
  flagPaidAfterCancel,
  paidAmounts,
  purchaseTerms,
  sessionMismatch,
} from "./payment-facts.ts";
import { type PromotionRule, recordPromotion } from "./promotions.ts";
import type { LedgerTx, Settle } from "./settle.ts";
import { chargedMinor } from "./state.ts";
import type { Payment } from "./store.ts";

export type FulfilLocked = (
  tx: LedgerTx,
  payment: Payment,
  session: PaidFacts,
  source: string,
) => Promise<FulfilOutcome>;

// Part of the payment service (payments.ts), which passes its own deps (the promotion rule is read
// from them on each call, as before the move), clock and settle.
export function createFulfilLocked(
  deps: { promotionReview: PromotionRule },
  { clock, settle }: { clock: Clock; settle: Settle },
): FulfilLocked {
  // The one fulfil function (webhook, success page, reconciliation): credits at most once per
  // payment, and only when the provider's session matches our payment row.
  return async function fulfilLocked(tx, payment, session, source) {
    if (payment.creditedAt) return "already_credited";
    const mismatch = sessionMismatch(payment, session);
    if (mismatch) {
      if (!payment.reviewReason) await tx.payments.updatePayment(payment.id, { reviewReason: mismatch });
      return "flagged";
    }
    const now = clock.now();
    const entry = await tx.ledger.post({
      userId: payment.userId,
      amount: payment.credits,
      kind: "purchase",
      idempotencyKey: systemKey.purchase(payment.id),
      paymentId: payment.id,
      at: now,
      grant: purchaseTerms(payment.creditExpiryDays, now),
    });
    invariant(entry, `payment ${payment.id}: crediting user failed`);
    const money = paidAmounts(session);
    await tx.outbox.emit({
      type: "credits.purchased",
      userId: payment.userId,
      at: now,
      data: {
        userId: payment.userId,
        paymentId: payment.id,
        packageId: payment.packageId,
        transactionId: entry.id,
        credits: entry.amount,
        amountMinor: payment.amountMinor,
        amountPaidMinor: chargedMinor({ amountMinor: payment.amountMinor, amountPaidMinor: money.amountPaidMinor }),
        amountDiscountMinor: money.amountDiscountMinor,
        amountTaxMinor: money.amountTaxMinor,
        currency: payment.currency,
        balance: entry.balanceAfter,
      },
    });
    const paid = await tx.payments.updatePayment(payment.id, {
      creditedAt: now,
      ...money,
      providerSessionId: session.id ?? payment.providerSessionId,
      providerPaymentIntentId: session.paymentIntentId ?? payment.providerPaymentIntentId,
    });
    await settle(tx, { ...paid, status: payment.status }, {}, source);
    await recordPromotion(tx, paid, deps.promotionReview, source);
    // The customer paid after canceling (a race with the cancel page): they get what they paid
    // for, and a person checks with them (a refund, most likely).
    if (payment.status === "canceled") await flagPaidAfterCancel(tx, payment, source);
    // Paid for a user erased meanwhile: credited as any payment, and refunded in full (ADR 025).
    await refundIfErased(tx, paid, now);
    return "credited";
  };
}
