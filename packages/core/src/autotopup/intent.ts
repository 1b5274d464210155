import type { Clock } from "../clock.ts";
import type { OutboxStore } from "../events/events.ts";
import type { LedgerStore } from "../ledger.ts";
import type { PaymentIntentInfo } from "../payments/provider.ts";
import type { RefundStore } from "../payments/refund-store.ts";
import type { Payment, PaymentStore } from "../payments/store.ts";
import { transition } from "../payments/transition.ts";
import { saveCheckoutCard } from "./card.ts";
import {
  AUTO_TOPUP_FAILURES_TO_DISABLE,
  type AutoTopUpAttempt,
  type AutoTopUpFailureReason,
  type AutoTopUpStore,
  FLAGGED_DISABLED_REASON,
  IN_FLIGHT_ATTEMPT_STATUSES,
  NOT_CHARGED_REASONS,
} from "./store.ts";

// What a PaymentIntent's outcome does, whoever reports it: its webhook (payment_intent.succeeded
// or payment_failed), the provider's synchronous answer to the off-session charge, or the
// worker asking again about an attempt left in flight (reconciliation). All three run this under
// the payment's row lock, so the credit, the attempt's outcome and its event happen once.

export interface IntentTx {
  payments: PaymentStore;
  ledger: LedgerStore;
  outbox: OutboxStore;
  refunds: RefundStore;
  autoTopUps: AutoTopUpStore;
}

// The paid facts the payment service's one fulfil function checks against our payment row.
export interface PaidFacts {
  // The Checkout session, when there is one (an off-session charge has none).
  id: string | null;
  paymentId: string | null;
  amountTotalMinor: number | null;
  // The session's subtotal, discounts and tax; absent for an off-session charge (no discount, no tax).
  amountSubtotalMinor?: number | null;
  amountDiscountMinor?: number | null;
  amountTaxMinor?: number | null;
  currency: string | null;
  paymentIntentId: string | null;
  // The session's payment status; absent for an off-session charge (always paid when credited).
  paymentStatus?: "paid" | "unpaid" | "no_payment_required";
}

export type Fulfil = (
  tx: IntentTx,
  payment: Payment,
  paid: PaidFacts,
  source: string,
) => Promise<"credited" | "already_credited" | "flagged">;

export interface IntentDeps {
  fulfil: Fulfil;
  clock: Clock;
  publicUrl: string;
}

const FAILED: readonly PaymentIntentInfo["status"][] = ["requires_payment_method", "requires_action", "canceled"];

// False when the PaymentIntent is not one of ours (no payment of ours named in its metadata).
export async function applyIntent(
  tx: IntentTx,
  intent: PaymentIntentInfo,
  source: string,
  deps: IntentDeps,
): Promise<boolean> {
  const payment = intent.paymentId ? await tx.payments.lockPayment(intent.paymentId) : null;
  if (!payment) return false;
  const attempt = await tx.autoTopUps.lockAttemptByPayment(payment.id);
  // A Checkout's PaymentIntent: the session's own events credit it; here only the card it saved.
  if (!attempt) return saveCheckoutCard(tx, payment, intent);
  if (intent.status === "succeeded") {
    const outcome = await deps.fulfil(tx, payment, paidFacts(payment, intent), source);
    if (outcome === "credited") await succeeded(tx, attempt, payment, deps.clock.now());
    if (outcome === "flagged") await flagged(tx, attempt, payment, intent);
    return true;
  }
  if (FAILED.includes(intent.status)) {
    if (payment.creditedAt || !IN_FLIGHT_ATTEMPT_STATUSES.includes(attempt.status)) return true;
    await transition(tx.payments, payment, { status: "failed", providerPaymentIntentId: intent.id }, source);
    if (await canceledByRemoval(tx, attempt, payment.createdAt)) return true;
    await attemptFailed(tx, attempt, failureReason(intent), deps);
    return true;
  }
  // Still on its way (processing): remember which PaymentIntent it is, for the worker to ask.
  if (!payment.providerPaymentIntentId) {
    await tx.payments.updatePayment(payment.id, { providerPaymentIntentId: intent.id });
  }
  return true;
}

function paidFacts(payment: Payment, intent: PaymentIntentInfo): PaidFacts {
  // A PaymentIntent that is not the one this payment already names is not its charge: flagged.
  const paymentId =
    payment.providerPaymentIntentId && payment.providerPaymentIntentId !== intent.id ? null : intent.paymentId;
  return {
    id: null,
    paymentId,
    amountTotalMinor: intent.amountMinor,
    currency: intent.currency,
    paymentIntentId: intent.id,
  };
}

function failureReason(intent: PaymentIntentInfo): AutoTopUpFailureReason {
  return intent.failureCode === "authentication_required" || intent.status === "requires_action"
    ? "authentication_required"
    : "declined";
}

// The provider charged, but not what the payment says (the payment now carries its reviewReason):
// not credited, and not a decline (no failure mail: the card was charged). The attempt ends, with
// the PaymentIntent kept on the payment for the person who reviews it, and auto top-up is turned
// off, so that a charge that cannot be credited is not repeated at the next crossing.
async function flagged(tx: IntentTx, attempt: AutoTopUpAttempt, payment: Payment, intent: PaymentIntentInfo) {
  if (!IN_FLIGHT_ATTEMPT_STATUSES.includes(attempt.status)) return;
  // A PaymentIntent other than the one the payment names is not its charge: the payment keeps its own.
  if (!payment.providerPaymentIntentId) {
    await tx.payments.updatePayment(payment.id, { providerPaymentIntentId: intent.id });
  }
  await tx.autoTopUps.updateAttempt(attempt.id, { status: "failed", reason: "flagged" });
  await tx.autoTopUps.turnOff(attempt.userId, FLAGGED_DISABLED_REASON);
}

async function succeeded(tx: IntentTx, attempt: AutoTopUpAttempt, payment: Payment, at: Date): Promise<void> {
  await tx.autoTopUps.updateAttempt(attempt.id, { status: "succeeded", reason: null });
  await tx.autoTopUps.resetFailures(attempt.userId);
  await tx.outbox.emit({
    type: "auto_topup.succeeded",
    userId: payment.userId,
    at,
    data: {
      userId: payment.userId,
      paymentId: payment.id,
      packageId: payment.packageId,
      credits: payment.credits,
      amountMinor: payment.amountMinor,
      currency: payment.currency,
    },
  });
}

// The card was removed (by its user, or a dispute) at or after `since`, when this charge began: a
// failure is then the removal's doing (a detached card is refused), not the card's. The attempt is
// skipped (card_removed): no failure mail or event, not counted toward the failures in a row.
// False (nothing done) when the card was not removed since.
export async function canceledByRemoval(tx: IntentTx, attempt: AutoTopUpAttempt, since: Date): Promise<boolean> {
  const removedAt = (await tx.autoTopUps.lockSettings(attempt.userId))?.cardRemovedAt;
  if (!removedAt || removedAt < since) return false;
  await tx.autoTopUps.updateAttempt(attempt.id, { status: "skipped", reason: "card_removed" });
  return true;
}

// A failure that charged nothing: counted (three in a row turn auto top-up off), announced, and
// mailed with a link to buy the same pack on-session (the price gone: to choose another). A cap is announced but not counted. One
// that never reached the provider (a cap, the price gone) is `skipped`, so the caps do not count it.
export async function attemptFailed(
  tx: IntentTx,
  attempt: AutoTopUpAttempt,
  reason: AutoTopUpFailureReason,
  deps: Pick<IntentDeps, "clock" | "publicUrl">,
): Promise<void> {
  const capped = reason === "cap_reached";
  const status = NOT_CHARGED_REASONS.includes(reason) ? "skipped" : "failed";
  await tx.autoTopUps.updateAttempt(attempt.id, { status, reason });
  const settings = await tx.autoTopUps.lockSettings(attempt.userId);
  const count = capped
    ? { consecutiveFailures: settings?.consecutiveFailures ?? 0, disabled: false }
    : await tx.autoTopUps.recordFailure(attempt.userId, AUTO_TOPUP_FAILURES_TO_DISABLE);
  await tx.outbox.emit({
    type: "auto_topup.failed",
    userId: attempt.userId,
    at: deps.clock.now(),
    data: { userId: attempt.userId, packageId: attempt.packageId, reason, ...count },
  });
  if (capped) return;
  const base = deps.publicUrl.replace(/\/+$/, "");
  // The pack no longer sold in that currency cannot be bought on-session either: the user chooses
  // another pack (or currency) on /account instead.
  const mail =
    reason === "price_unavailable"
      ? { reason, currency: attempt.currency ?? settings?.currency ?? null, payUrl: `${base}/account` }
      : { reason, payUrl: `${base}/credits?package=${encodeURIComponent(attempt.packageId)}` };
  await tx.autoTopUps.queueFailureMail(attempt.id, attempt.userId, { packageId: attempt.packageId, ...mail });
}
