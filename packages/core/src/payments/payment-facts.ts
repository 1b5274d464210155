import type { PaidFacts } from "../autotopup/intent.ts";
import type { OutboxStore } from "../events/events.ts";
import { resolveGrantTerms } from "../grant-terms.ts";
import type { GrantTerms } from "../grants.ts";
import type { RefundStore } from "./refund-store.ts";
import { clawbackTargets } from "./state.ts";
import type { Payment, PaymentStore } from "./store.ts";

// The pure and outbox pieces of the payment service (payments.ts): what a fact change announces,
// whether a session matches its payment, and a purchase's grant terms.

// payment.refunded when the refunded amount or the credits clawed back for it grew (a clawback
// posted when the payment is credited after its refund changes only the credits),
// payment.disputed when the dispute's status changed: in the transaction that records the new
// facts, so a replayed report (nothing new) announces nothing. `expiredOfRefund`: the payment's credits that had expired, of the refund's
// share (settle.ts): gone already, neither taken back nor short.
export async function emitPaymentFacts(
  outbox: OutboxStore,
  before: Payment,
  after: Payment,
  at: Date,
  expiredOfRefund = 0,
) {
  if (after.amountRefundedMinor > before.amountRefundedMinor || after.creditsRefunded > before.creditsRefunded) {
    // Credits the refund should have taken back but the user had already spent.
    const wanted = after.creditedAt ? clawbackTargets(after).refunded - expiredOfRefund : 0;
    const short = Math.max(wanted - after.creditsRefunded, 0);
    await outbox.emit({
      type: "payment.refunded",
      userId: after.userId,
      at,
      data: {
        userId: after.userId,
        paymentId: after.id,
        amountRefundedMinor: after.amountRefundedMinor,
        currency: after.currency,
        creditsRefunded: after.creditsRefunded,
        creditsShort: short,
      },
    });
  }
  if (after.disputeStatus && after.disputeStatus !== before.disputeStatus) {
    await outbox.emit({
      type: "payment.disputed",
      userId: after.userId,
      at,
      data: {
        userId: after.userId,
        paymentId: after.id,
        disputeStatus: after.disputeStatus,
        creditsDisputed: after.creditsDisputed,
      },
    });
  }
}

// What the one fulfil function did with a paid session: credited it now, found it credited
// before, or flagged it for a person (the session does not match our payment row).
export type FulfilOutcome = "credited" | "already_credited" | "flagged";

export function sessionMismatch(payment: Payment, session: PaidFacts): string | null {
  const name = session.id ?? session.paymentIntentId;
  if (session.paymentId !== payment.id) return `${name} belongs to another payment`;
  if (payment.providerSessionId && session.id !== null && session.id !== payment.providerSessionId) {
    return `session ${session.id} is not this payment's session`;
  }
  return paidAmountProblem(payment, session);
}

// The session's money checked against our payment: it sold our price (its subtotal, before its
// own discounts and tax), in our currency, and its total is that subtotal less its discounts plus
// its tax (tax is always added: checkout sends prices tax-exclusive). So a promotion code or tax
// is not a mismatch, and a session that sold something else, or whose figures do not add up, is.
// A total of 0 (a 100%-off promotion code) is right only for a session with nothing to pay, and
// such a session must total 0.
export function paidAmountProblem(payment: Payment, session: PaidFacts): string | null {
  const total = session.amountTotalMinor;
  const subtotal = session.amountSubtotalMinor ?? total;
  const discount = session.amountDiscountMinor ?? 0;
  const tax = session.amountTaxMinor ?? 0;
  if (subtotal !== payment.amountMinor) {
    return `amount mismatch: sold ${subtotal} ${session.currency}, expected ${payment.amountMinor} ${payment.currency}`;
  }
  const expected = payment.amountMinor - discount + tax;
  const nothingDue = session.paymentStatus === "no_payment_required";
  const wrongTotal = total === null || total < 0 || (total === 0) !== nothingDue || total !== expected;
  if (wrongTotal || session.currency?.toLowerCase() !== payment.currency) {
    const how =
      discount > 0 || tax > 0 ? ` (price ${payment.amountMinor} less discounts ${discount} plus tax ${tax})` : "";
    return `amount mismatch: paid ${total} ${session.currency}, expected ${expected} ${payment.currency}${how}`;
  }
  return null;
}

// What a credited session's payment records about the money: the total paid and how it came about.
export function paidAmounts(session: PaidFacts) {
  const total = session.amountTotalMinor;
  return {
    amountPaidMinor: total,
    amountSubtotalMinor: session.amountSubtotalMinor ?? total,
    amountDiscountMinor: session.amountDiscountMinor ?? 0,
    amountTaxMinor: session.amountTaxMinor ?? 0,
  };
}

// A purchase is a paid grant at the default priority; bought from a pack with creditExpiryDays (as
// the payment copied it), its credits expire that many days after they are credited.
export function purchaseTerms(expiryDays: number | null, now: Date): GrantTerms {
  const expiresAt = expiryDays === null ? null : new Date(now.getTime() + expiryDays * 86_400_000);
  return resolveGrantTerms("purchase", { expiresAt });
}

export const PAID_AFTER_CANCEL_REVIEW = "paid after its checkout was canceled: credited; check with the customer";

// A canceled payment that was paid all the same: credited, flagged for review (shown on the
// payment in the admin API) and audited, in the transaction that credits it.
export async function flagPaidAfterCancel(
  tx: { payments: PaymentStore; refunds: RefundStore },
  payment: Payment,
  source: string,
): Promise<void> {
  const reviewReason = PAID_AFTER_CANCEL_REVIEW;
  await tx.payments.updatePayment(payment.id, { reviewReason });
  await tx.refunds.audit({
    actorId: null,
    targetUserId: payment.userId,
    action: "payment.paid_after_cancel",
    amount: payment.credits,
    reason: reviewReason,
    requestId: null,
    balanceBefore: null,
    balanceAfter: null,
    adjustmentRequestId: null,
    detail: { paymentId: payment.id, amountMinor: payment.amountMinor, currency: payment.currency, source },
  });
}
