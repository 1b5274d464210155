import type { OutboxStore } from "../events/events.ts";
import { PaymentNotYetKnownError } from "./not-yet-known.ts";
import {
  type ChargeInfo,
  type PaymentProvider,
  type ProviderEvent,
  type RefundInfo,
  UNDONE_REFUND_STATUSES,
} from "./provider.ts";
import { type CountedRefunds, MAX_FAILURE_LENGTH, type Refund } from "./refund-store.ts";
import type { LedgerTx, Settle } from "./settle.ts";
import type { Payment, PaymentStore } from "./store.ts";

// A refund that fails after it was counted (a pending refund the bank sends back) gives back what
// it clawed back (ADR 016). Stripe reports it as refund.failed, refund.updated and
// charge.refund.updated, in any order, each possibly twice, possibly after a stale report of the
// same refund as pending or succeeded. A failed or canceled refund never changes status again, so
// such a report is final; a report of any other status is acted on by no one (the charge's
// refunded amount counts those). Once a payment has a failed refund, the charge's cumulative
// amount_refunded is no longer comparable with what we counted (a report from before the failure
// still counts it): the payment's refunded amount is then what the provider's refunds of it, as
// they stand now, add up to.

// The provider's refunds of a payment, read before the payment's lock is taken (no provider call
// is made under a database lock), and what our row said when they were read.
export interface ListedRefunds {
  paymentId: string;
  // The refunds as listed.
  refunds: RefundInfo[];
  // The payment's refunded amount when they were read: changed since, the list may be stale.
  seenRefundedMinor: number;
}

// The payment's refunds changed between reading them from the provider and locking the payment.
export class RefundFactsMovedError extends PaymentNotYetKnownError {
  constructor(paymentId: string) {
    super(`payment ${paymentId}`);
    this.message = `the refunds of payment ${paymentId} changed while they were read: try again`;
  }
}

export const isUndone = (refund: Pick<RefundInfo, "status">) => UNDONE_REFUND_STATUSES.includes(refund.status);

// What the listed refunds add up to, less those failed or canceled as the list says or as we
// recorded them: a list read after a failure may still show the refund pending (Stripe's lists are
// eventually consistent), and counting it again would claw back credits its refund_reversal gave back.
export function netRefundedMinor(refunds: RefundInfo[], failedIds: readonly string[]): number {
  return refunds
    .filter((refund) => !isUndone(refund) && !failedIds.includes(refund.id))
    .reduce((total, refund) => total + refund.amountMinor, 0);
}

// The refunds of ours among those netRefundedMinor adds up (a dashboard refund names no row).
function countedIn(refunds: RefundInfo[], failedIds: readonly string[], own?: RefundInfo): CountedRefunds {
  const counted = refunds.filter((refund) => !isUndone(refund) && !failedIds.includes(refund.id));
  const named = own ? [...counted, own] : counted;
  return {
    ids: named.flatMap((refund) => (refund.refundRequestId ? [refund.refundRequestId] : [])),
    providerRefundIds: named.map((refund) => refund.id),
  };
}

// Under the payment's lock, its refunded amount just raised to `refundedMinor` from a report:
// marks the refunds of ours that amount surely counts, so they are no longer held beyond it
// (inFlightMinor, review 10 F5). Those of a fresh listing whose sum it reaches; and, with no failed
// refund, our own refund (`own`) whose answer's charge, as it stands after that refund, it applied.
// A charge's cumulative amount alone names no refund (a dashboard refund is in it too): nothing.
export async function markCounted(
  tx: LedgerTx,
  payment: Payment,
  refundedMinor: number,
  listed: ListedRefunds | undefined,
  own?: RefundInfo,
): Promise<void> {
  const failedIds = await tx.refunds.failedRefundIds(payment.id);
  const fresh = isFresh(payment, listed) && refundedMinor >= netRefundedMinor(listed.refunds, failedIds);
  const mine = own && failedIds.length === 0 ? own : undefined;
  if (!fresh && !mine) return;
  await tx.refunds.markCounted(payment.id, countedIn(fresh ? listed.refunds : [], failedIds, mine), false);
}

interface Deps {
  store: PaymentStore;
  provider: PaymentProvider;
}

type ProviderRef = { paymentIntentId: string | null; chargeId: string | null };

// Before the event's transaction: the provider's refunds of its payment, when the event needs
// them (a refund that failed, or a charge report for a payment with a failed refund).
export function listRefundsFor(deps: Deps, event: ProviderEvent): Promise<ListedRefunds | undefined> {
  const failure = event.type === "refund.updated" && isUndone(event.refund);
  const ref = failure
    ? { paymentIntentId: event.refund.paymentIntentId, chargeId: event.refund.chargeId }
    : event.type === "charge.refunded"
      ? { paymentIntentId: event.charge.paymentIntentId, chargeId: event.charge.id }
      : null;
  if (!ref) return Promise.resolve(undefined);
  return listRefunds(deps, (payments) => payments.lockPaymentByProviderRef(ref), failure);
}

// For reconciliation: the refunds of the payment of a charge, whatever they are.
export function listRefundsOfCharge(deps: Deps, ref: ProviderRef): Promise<ListedRefunds | undefined> {
  return listRefunds(deps, (payments) => payments.lockPaymentByProviderRef(ref), true);
}

// For an answer found later (reconciliation): the payment's refunds, whatever they are.
export function listAllRefundsOf(deps: Deps, paymentId: string): Promise<ListedRefunds | undefined> {
  return listRefunds(deps, (payments) => payments.lockPayment(paymentId), true);
}

// For our own refund's answer: the payment's refunds, if one of them failed before.
export function listRefundsOf(deps: Deps, paymentId: string): Promise<ListedRefunds | undefined> {
  return listRefunds(deps, (payments) => payments.lockPayment(paymentId), false);
}

async function listRefunds(
  deps: Deps,
  find: (payments: PaymentStore) => Promise<Payment | null>,
  always: boolean,
): Promise<ListedRefunds | undefined> {
  const seen = await deps.store.transaction(async (tx) => {
    const payment = await find(tx.payments);
    if (!payment?.providerPaymentIntentId) return null;
    const needed = always || (await tx.refunds.failedRefundIds(payment.id)).length > 0;
    return needed ? { payment, paymentIntentId: payment.providerPaymentIntentId } : null;
  });
  if (!seen) return undefined;
  const refunds = await deps.provider.listRefunds(seen.paymentIntentId);
  return {
    paymentId: seen.payment.id,
    refunds,
    seenRefundedMinor: seen.payment.amountRefundedMinor,
  };
}

// Whether the listing still describes this locked payment (nothing changed its refunds since).
export const isFresh = (payment: Payment, listed: ListedRefunds | undefined): listed is ListedRefunds =>
  listed?.paymentId === payment.id && listed.seenRefundedMinor === payment.amountRefundedMinor;

// The listing for this locked payment, or an error that has the event handled again (a new list).
export function listedFor(payment: Payment, listed: ListedRefunds | undefined): ListedRefunds {
  if (!isFresh(payment, listed)) throw new RefundFactsMovedError(payment.id);
  return listed;
}

// Under the payment's lock: the refunded amount a report of its charge stands for. With no failed
// refund, the charge's cumulative amount; after one, what the provider's refunds listed before the
// lock add up to, without those recorded failed (none fresh: 0, nothing moves; or, when the caller
// must not let it go, an error that has it read the list again).
export async function refundedAtProvider(
  tx: LedgerTx,
  payment: Payment,
  charge: ChargeInfo,
  listed: ListedRefunds | undefined,
  needsList: boolean,
): Promise<number> {
  const failedIds = await tx.refunds.failedRefundIds(payment.id);
  if (failedIds.length === 0) return charge.amountRefundedMinor;
  if (needsList) listedFor(payment, listed);
  return isFresh(payment, listed) ? netRefundedMinor(listed.refunds, failedIds) : 0;
}

// A failed or canceled refund, under the payment's lock: recorded once (by the provider's refund
// id), the payment's refunded amount set to what its other refunds now add up to (this one, and
// every one recorded failed before, counts as undone whatever the list says: the list may lag the
// event, and failed or canceled is final, so a listing that still counts it must not consume the
// failure; review 8 F5), the credits taken
// beyond the new target given back (a refund_reversal keyed by the refund id) and the status
// recomputed, in one transaction; and our own refund request, if it was one, marked failed.
// False when the failure was recorded before (nothing done).
export async function applyRefundFailure(
  tx: LedgerTx,
  settle: Settle,
  payment: Payment,
  refund: RefundInfo,
  listed: ListedRefunds,
): Promise<boolean> {
  const status = refund.status === "canceled" ? "canceled" : "failed";
  const first = await tx.refunds.recordRefundFailure({
    providerRefundId: refund.id,
    paymentId: payment.id,
    amountMinor: refund.amountMinor,
    status,
  });
  if (!first) return false;
  const failedIds = await tx.refunds.failedRefundIds(payment.id);
  const amountRefundedMinor = netRefundedMinor(listed.refunds, failedIds);
  await settle(tx, payment, { amountRefundedMinor }, `refund_failed:${refund.id}`);
  // The amount went down to exactly what the listed refunds add up to: one of ours the list does
  // not show (yet) is held beyond it again until a report names it.
  await tx.refunds.markCounted(payment.id, countedIn(listed.refunds, failedIds), true);
  const request = await failRequest(tx, payment, refund);
  // Our request already recorded failed (the provider answered it failed) was announced then.
  if (request === "failed_before") return true;
  await emitRefundFailed(
    tx.outbox,
    request ?? {
      ...{ id: null, userId: payment.userId, paymentId: payment.id, providerRefundId: refund.id },
      ...{ amountMinor: refund.amountMinor, currency: payment.currency, failureReason: failureText(refund) },
    },
  );
  return true;
}

const failureText = (refund: RefundInfo) =>
  `the provider's refund ${refund.status}${refund.failureReason ? `: ${refund.failureReason}` : ""}`.slice(
    0,
    MAX_FAILURE_LENGTH,
  );

// payment.refund_failed, in the transaction that records the failure: for our refund request, or
// (id null) for a refund made at the provider.
export function emitRefundFailed(
  outbox: OutboxStore,
  refund: Pick<Refund, "userId" | "paymentId" | "providerRefundId" | "amountMinor" | "currency" | "failureReason"> & {
    id: string | null;
  },
) {
  return outbox.emit({
    type: "payment.refund_failed",
    userId: refund.userId,
    data: {
      userId: refund.userId,
      paymentId: refund.paymentId,
      refundId: refund.id,
      providerRefundId: refund.providerRefundId,
      amountMinor: refund.amountMinor,
      currency: refund.currency,
      reason: refund.failureReason ?? "failed",
    },
  });
}

// Our request whose refund this was (its metadata names it): failed, with the provider's reason.
// Null when the refund was not one of ours; "failed_before" when our request was already failed.
async function failRequest(
  tx: LedgerTx,
  payment: Payment,
  refund: RefundInfo,
): Promise<Refund | "failed_before" | null> {
  const request = refund.refundRequestId ? await tx.refunds.lockRefund(refund.refundRequestId) : null;
  if (!request || request.paymentId !== payment.id) return null;
  if (request.providerRefundId !== null && request.providerRefundId !== refund.id) return null;
  if (request.status === "failed") return "failed_before";
  if (request.status !== "succeeded" && request.status !== "processing") return null;
  const failed = await tx.refunds.updateRefund(request.id, {
    status: "failed",
    providerRefundId: refund.id,
    failureReason: failureText(refund),
  });
  await tx.refunds.audit({
    actorId: null,
    targetUserId: failed.userId,
    action: "refund_failed",
    amount: null,
    reason: failed.reason,
    requestId: null,
    balanceBefore: null,
    balanceAfter: null,
    adjustmentRequestId: null,
    detail: {
      refundId: failed.id,
      paymentId: failed.paymentId,
      amountMinor: failed.amountMinor,
      currency: failed.currency,
      providerRefundId: refund.id,
    },
  });
  return failed;
}
