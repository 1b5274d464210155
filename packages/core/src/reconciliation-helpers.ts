// The pure pieces of a reconciliation pass (reconciliation-pass.ts): the provider's listings cut
// into batches, and a session's amounts compared with our payment's.
import { PAID_AFTER_CANCEL_REVIEW } from "./payments/payment-facts.ts";
import {
  type CheckoutSessionInfo,
  type PaymentProvider,
  ProviderUnavailableError,
  sessionSettled,
} from "./payments/provider.ts";
import { chargedMinor } from "./payments/state.ts";
import type { Payment } from "./payments/store.ts";
import type { NewFinding } from "./reconciliation-store.ts";

// A charge against our payment: for what was paid (once the session told us), else the price.
export function amountDiffers(payment: Payment, amountMinor: number | null, currency: string | null): boolean {
  return amountMinor !== chargedMinor(payment) || currency?.toLowerCase() !== payment.currency;
}

// A paid session of a payment canceled from the cancel page (credited and flagged by the fulfil
// function, ADR 002): reported by every run while the flag stands, so the run's report shows it
// beside the review queue; the flag and its audit row stay the fulfil function's alone.
export function afterCancel(session: CheckoutSessionInfo, payment: Payment): NewFinding | null {
  const flagged = payment.status === "canceled" || payment.reviewReason === PAID_AFTER_CANCEL_REVIEW;
  if (!sessionSettled(session) || !flagged) return null;
  const detail = { reason: PAID_AFTER_CANCEL_REVIEW, credits: payment.credits, ...amounts(session) };
  return {
    kind: "paid_after_cancel",
    paymentId: payment.id,
    userId: payment.userId,
    providerRef: session.id,
    detail,
    healed: false,
  };
}

export function amounts(session: CheckoutSessionInfo) {
  return {
    providerAmountMinor: session.amountTotalMinor,
    providerSubtotalMinor: session.amountSubtotalMinor,
    providerDiscountMinor: session.amountDiscountMinor,
    providerTaxMinor: session.amountTaxMinor,
    providerCurrency: session.currency,
  };
}

export function byId(payments: Payment[]): Map<string, Payment> {
  return new Map(payments.map((payment) => [payment.id, payment]));
}

export function unique(values: string[]): string[] {
  return [...new Set(values)];
}

export async function* batches<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

// A session asked about by id: null when the provider does not know it.
export async function lookUpSession(provider: PaymentProvider, sessionId: string): Promise<CheckoutSessionInfo | null> {
  try {
    return await provider.retrieveCheckoutSession(sessionId);
  } catch (error) {
    // An outage fails the run (it is not evidence of anything); any other refusal is "unknown".
    if (error instanceof ProviderUnavailableError) throw error;
    return null;
  }
}
