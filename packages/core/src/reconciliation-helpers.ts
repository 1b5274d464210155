// The pure pieces of a reconciliation pass (reconciliation-pass.ts): the provider's listings cut
// into batches, and a session's amounts compared with our payment's.
import { type CheckoutSessionInfo, type PaymentProvider, ProviderUnavailableError } from "./payments/provider.ts";
import { chargedMinor } from "./payments/state.ts";
import type { Payment } from "./payments/store.ts";

// A charge against our payment: for what was paid (once the session told us), else the price.
export function amountDiffers(payment: Payment, amountMinor: number | null, currency: string | null): boolean {
  return amountMinor !== chargedMinor(payment) || currency?.toLowerCase() !== payment.currency;
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
