import type { CatalogStore } from "../catalog.ts";
import type { Clock } from "../clock.ts";
import {
  type OffSessionCharge,
  type PaymentIntentInfo,
  type PaymentProvider,
  PROVIDER_IDEMPOTENCY_WINDOW_MS,
  ProviderInProgressError,
  ProviderRefusedError,
} from "../payments/provider.ts";
import { OPEN_STATUSES } from "../payments/state.ts";
import type { PaymentStore } from "../payments/store.ts";
import { transition } from "../payments/transition.ts";
import { withRetry } from "../retry.ts";
import { applyIntent, attemptFailed, canceledByRemoval, type IntentDeps, type IntentTx } from "./intent.ts";
import {
  type AutoTopUpAttempt,
  type AutoTopUpAttemptReason,
  autoTopUpPaymentKey,
  IN_FLIGHT_ATTEMPT_STATUSES,
} from "./store.ts";

// The auto top-up worker's pass: claims due attempts (FOR UPDATE SKIP LOCKED and a lease, like
// the webhook deliveries, ADR 013), makes each one's payment row in a transaction that also checks
// the caps, then asks the provider outside any transaction, with an idempotency key per attempt
// (so per crossing). The answer is applied through applyIntent, like the webhook. An attempt whose
// lease ran out while processing (a crash, a timeout) is claimed again: the worker asks the
// provider about its PaymentIntent (or repeats the create under the same key, which Stripe answers
// with the same PaymentIntent). That is the reconciliation of auto top-ups.

export interface AutoTopUpCaps {
  // Charges per UTC day and per UTC month (attempts that reached the provider).
  perDay: number;
  perMonth: number;
  // What those charges add up to with the next one, per UTC day and month, per currency (minor
  // units). A currency not listed has no room: nothing is charged in it.
  amountPerDayMinor: Readonly<Record<string, number>>;
  amountPerMonthMinor: Readonly<Record<string, number>>;
}

export interface ChargeDeps extends IntentDeps {
  payments: PaymentStore;
  catalog: CatalogStore;
  provider: PaymentProvider;
  claimDue: (limit: number, now: Date, leaseUntil: Date) => Promise<AutoTopUpAttempt[]>;
  caps: AutoTopUpCaps;
  clock: Clock;
}

const BATCH = 10;
export const AUTO_TOPUP_LEASE_MS = 60_000;
// Claims of one attempt before a provider that keeps failing counts as a failure.
export const AUTO_TOPUP_MAX_TRIES = 8;

// paymentIntentId: the provider's PaymentIntent, when known (asked about, never created again);
// keyForgotten: no PaymentIntent known and the first create was sent longer ago than the provider
// remembers its idempotency key, so sending it again could charge the card a second time.
type Prepared = { charge: OffSessionCharge; paymentIntentId: string | null; keyForgotten: boolean } | null;

export function createAutoTopUpCharger(deps: ChargeDeps) {
  const { clock, provider } = deps;
  const inTransaction = <T>(work: (tx: IntentTx) => Promise<T>) => withRetry(() => deps.payments.transaction(work));

  async function runOnce(): Promise<{ claimed: number }> {
    const now = clock.now();
    const due = await deps.claimDue(BATCH, now, new Date(now.getTime() + AUTO_TOPUP_LEASE_MS));
    // One attempt that throws (a bug, a database error) must not stall the other users' attempts
    // claimed behind it (review 8 F1): each is tried, then the errors go to the worker's report.
    const errors: unknown[] = [];
    for (const attempt of due) await charge(attempt).catch((error: unknown) => errors.push(error));
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} auto top-up attempts failed`);
    return { claimed: due.length };
  }

  async function charge(attempt: AutoTopUpAttempt): Promise<void> {
    const pack = await deps.catalog.findPackage(attempt.packageId);
    const prepared = await inTransaction((tx) => prepare(tx, attempt, pack));
    if (!prepared) return;
    if (prepared.keyForgotten) {
      await inTransaction((tx) => giveUp(tx, attempt.id, prepared.charge.paymentId, forgottenKey(prepared.charge)));
      return;
    }
    let intent: PaymentIntentInfo;
    try {
      intent = prepared.paymentIntentId
        ? await provider.retrievePaymentIntent(prepared.paymentIntentId)
        : await provider.chargeOffSession(prepared.charge);
    } catch (error) {
      // Another worker's request under this key is still at the provider (its lease ran out while
      // it waited): that request's outcome counts, applied by its answer, the webhook or a later
      // pass. Never a failure, even on the last try: the winner's charge may be credited.
      if (error instanceof ProviderInProgressError) return;
      // Unreachable provider: the lease runs out and a later pass asks again with the same key.
      if (error instanceof ProviderRefusedError || attempt.tries >= AUTO_TOPUP_MAX_TRIES) {
        await inTransaction((tx) => giveUp(tx, attempt.id, prepared.charge.paymentId));
      }
      return;
    }
    await inTransaction((tx) => applyIntent(tx, intent, "auto_topup_answer", deps));
  }

  // Under the attempt's lock: skip it, or make (or find) its payment and say what to charge.
  async function prepare(
    tx: IntentTx,
    claimed: AutoTopUpAttempt,
    pack: Awaited<ReturnType<CatalogStore["findPackage"]>>,
  ): Promise<Prepared> {
    const attempt = await stillClaimed(tx, claimed, new Date(clock.now().getTime() + AUTO_TOPUP_LEASE_MS));
    if (!attempt) return null;
    const customerId = (await tx.payments.getBillingProfile(attempt.userId))?.providerCustomerId ?? null;
    if (attempt.paymentId) {
      const payment = await tx.payments.findPayment(attempt.paymentId);
      if (!payment || !customerId || !attempt.paymentMethodId) return skip(tx, attempt, "disabled");
      if (payment.creditedAt) return null;
      if (!(await settingsStillAllow(tx, attempt, payment))) return skip(tx, attempt, "disabled");
      return {
        charge: offSession(payment, customerId, attempt.paymentMethodId, attempt.id),
        paymentIntentId: payment.providerPaymentIntentId,
        keyForgotten: keyForgotten(payment, clock.now()),
      };
    }
    const settings = await tx.autoTopUps.lockSettings(attempt.userId);
    if (!settings?.enabled || !settings.paymentMethodId || !customerId) return skip(tx, attempt, "disabled");
    // The offer copied at the crossing, never the pack's or the settings' of now: a price or a
    // currency changed since does not change what this crossing charges.
    const offer = offerOf(attempt);
    if (!pack || !offer) {
      await attemptFailed(tx, attempt, "price_unavailable", deps);
      return null;
    }
    if (await overCap(tx, attempt.userId, offer, clock.now(), deps.caps)) {
      await attemptFailed(tx, attempt, "cap_reached", deps);
      return null;
    }
    const payment = await tx.payments.insertPayment({
      userId: attempt.userId,
      packageId: pack.id,
      ...offer,
      creditExpiryDays: attempt.creditExpiryDays,
      provider: provider.name,
      idempotencyKey: autoTopUpPaymentKey(attempt.id),
    });
    if (!payment) throw new Error(`auto top-up ${attempt.id}: its payment key is taken`);
    const paymentMethodId = settings.paymentMethodId;
    await tx.autoTopUps.updateAttempt(attempt.id, { status: "processing", paymentId: payment.id, paymentMethodId });
    return {
      charge: offSession(payment, customerId, paymentMethodId, attempt.id),
      paymentIntentId: null,
      keyForgotten: false,
    };
  }

  // The provider refused the request, or kept failing, or may have forgotten it: a failure like a
  // decline (the payment, if the provider did take money after all, is still credited by its
  // webhook or the reconciliation). `reviewReason`: a person must look at the provider.
  async function giveUp(tx: IntentTx, attemptId: string, paymentId: string, reviewReason?: string): Promise<void> {
    // The payment's lock first, as applyIntent takes them.
    const payment = await tx.payments.lockPayment(paymentId);
    const attempt = await tx.autoTopUps.lockAttempt(attemptId);
    if (!attempt || !IN_FLIGHT_ATTEMPT_STATUSES.includes(attempt.status)) return;
    if (payment && !payment.creditedAt && OPEN_STATUSES.includes(payment.status)) {
      const review = reviewReason && !payment.reviewReason ? { reviewReason } : {};
      await transition(tx.payments, payment, { status: "failed", ...review }, "auto_topup_provider_error");
    }
    if (await canceledByRemoval(tx, attempt, payment?.createdAt ?? attempt.createdAt)) return;
    await attemptFailed(tx, attempt, "provider_error", deps);
  }

  return { runOnce };
}

// Under the attempt's lock: still in flight and still this worker's claim (no other worker claimed
// it since, its lease having run out while this worker charged the ones before it in its batch),
// its lease extended from now, right before the provider call it leads to.
async function stillClaimed(tx: IntentTx, claimed: AutoTopUpAttempt, leaseUntil: Date) {
  const attempt = await tx.autoTopUps.lockAttempt(claimed.id);
  if (!attempt || !IN_FLIGHT_ATTEMPT_STATUSES.includes(attempt.status) || attempt.tries !== claimed.tries) return null;
  await tx.autoTopUps.updateAttempt(attempt.id, { lockedUntil: leaseUntil });
  return attempt;
}

// A retried attempt with no PaymentIntent known yet: the charge may never have reached Stripe, so
// the settings still decide. Turned off, or the card removed (a dispute) or changed since: no new
// create (one that did land is still credited by its webhook or by reconciliation).
async function settingsStillAllow(
  tx: IntentTx,
  attempt: AutoTopUpAttempt,
  payment: { providerPaymentIntentId: string | null },
): Promise<boolean> {
  if (payment.providerPaymentIntentId) return true;
  const settings = await tx.autoTopUps.lockSettings(attempt.userId);
  return !!settings?.enabled && settings.paymentMethodId === attempt.paymentMethodId;
}

// Under the user's settings lock, in the transaction that makes this attempt's payment (and so
// counts it from its commit on): attempts for one user are checked one after another, each seeing
// the ones before it, so concurrent crossings cannot add up past a cap.
function offerOf({ credits, amountMinor, currency }: AutoTopUpAttempt) {
  return credits !== null && amountMinor !== null && currency !== null ? { credits, amountMinor, currency } : null;
}

async function overCap(
  tx: IntentTx,
  userId: string,
  charge: { amountMinor: number; currency: string },
  now: Date,
  caps: AutoTopUpCaps,
): Promise<boolean> {
  const day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const windows = [
    { since: day, count: caps.perDay, amount: capOf(caps.amountPerDayMinor, charge.currency) },
    { since: month, count: caps.perMonth, amount: capOf(caps.amountPerMonthMinor, charge.currency) },
  ];
  for (const window of windows) {
    const charged = await tx.autoTopUps.charged(userId, window.since, charge.currency);
    if (charged.count >= window.count || charged.amountMinor + charge.amountMinor > window.amount) return true;
  }
  return false;
}

// A currency's amount cap (minor units); none configured: 0, no room. Own keys only: a hostile
// currency must not read the prototype's.
export function capOf(perCurrency: Readonly<Record<string, number>>, currency: string): number {
  return Object.hasOwn(perCurrency, currency) ? (perCurrency[currency] ?? 0) : 0;
}

async function skip(tx: IntentTx, attempt: AutoTopUpAttempt, reason: AutoTopUpAttemptReason): Promise<null> {
  await tx.autoTopUps.updateAttempt(attempt.id, { status: "skipped", reason });
  return null;
}

// The payment row is written just before its first create is sent.
function keyForgotten(payment: { providerPaymentIntentId: string | null; createdAt: Date }, now: Date): boolean {
  return (
    !payment.providerPaymentIntentId && now.getTime() - payment.createdAt.getTime() >= PROVIDER_IDEMPOTENCY_WINDOW_MS
  );
}

function forgottenKey(charge: OffSessionCharge): string {
  return (
    `auto top-up sent over ${PROVIDER_IDEMPOTENCY_WINDOW_MS / 3_600_000} hours ago without an answer; not sent again ` +
    `(it could charge twice): look for the provider's PaymentIntent with metadata paymentId ${charge.paymentId}`
  );
}

function offSession(
  payment: { id: string; userId: string; amountMinor: number; currency: string; credits: number },
  customerId: string,
  paymentMethodId: string,
  attemptId: string,
): OffSessionCharge {
  return {
    paymentId: payment.id,
    userId: payment.userId,
    customerId,
    paymentMethodId,
    amountMinor: payment.amountMinor,
    currency: payment.currency,
    description: `Auto top-up: ${payment.credits} credits`,
    idempotencyKey: autoTopUpPaymentKey(attemptId),
  };
}
