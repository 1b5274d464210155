import type { CatalogStore } from "../catalog.ts";
import { NotFoundError } from "../errors.ts";
import { type PaymentProvider, ProviderRefusedError, ProviderUnavailableError } from "./provider.ts";
import { chargedMinor } from "./state.ts";
import type { Payment, PaymentStore } from "./store.ts";

export interface Receipt {
  paymentId: string;
  packageName: string;
  credits: number;
  // What was paid: the price less a promotion code's discount plus tax (each 0 without one).
  amountMinor: number;
  priceMinor: number;
  discountMinor: number;
  taxMinor: number;
  currency: string;
  paidAt: Date;
  // The provider's receipt (Stripe's hosted page), or the app's own page on the local provider.
  receiptUrl: string | null;
  // True when receiptUrl is the provider's own page, not ours.
  hostedByProvider: boolean;
}

type BeforeProviderCall = () => Promise<unknown>;
const noLimit: BeforeProviderCall = async () => {};

// Receipts of paid payments. The provider's receipt is stored on the payment once known (from a
// charge the provider reported, or asked for here once), so it is asked for at most once.
// Part of the payment service (payments.ts).
export function createReceipts(deps: { store: PaymentStore; catalog: CatalogStore; provider: PaymentProvider }) {
  const { store, provider } = deps;

  // The payment with its receipt url when it is paid; the provider not answering now, or not
  // knowing the charge yet, only means no receipt yet (the next read asks again). Only a read
  // that asks the provider passes `beforeProviderCall` (the caller's rate limit, which may refuse it).
  async function withReceipt(payment: Payment, beforeProviderCall: BeforeProviderCall = noLimit): Promise<Payment> {
    if (payment.receiptUrl || !payment.creditedAt || !payment.providerPaymentIntentId) return payment;
    // Made by another provider than the one running now (a key set or removed since).
    if (payment.provider !== provider.name) return payment;
    // An erased user's (no billing profile any more): the provider's receipt shows their email and
    // card, so no link to it is fetched or kept (erasure cleared the stored ones).
    if (!(await store.getBillingProfile(payment.userId))) return payment;
    await beforeProviderCall();
    const receiptUrl = await provider
      .receiptUrl({ id: payment.id, paymentIntentId: payment.providerPaymentIntentId })
      .catch((error: unknown) => {
        if (error instanceof ProviderUnavailableError || error instanceof ProviderRefusedError) return null;
        throw error;
      });
    if (!receiptUrl) return payment;
    return store.updatePayment(payment.id, { receiptUrl });
  }

  // A paid payment's receipt, for its owner or an admin; anyone else, or an unpaid payment: not found.
  async function receipt(
    viewer: { id: string; role: string },
    paymentId: string,
    beforeProviderCall: BeforeProviderCall = noLimit,
  ): Promise<Receipt> {
    const found = await store.findPayment(paymentId);
    if (!found || (found.userId !== viewer.id && viewer.role !== "admin") || !found.creditedAt) {
      throw new NotFoundError("receipt");
    }
    const payment = await withReceipt(found, beforeProviderCall);
    const pack = await deps.catalog.findPackage(payment.packageId);
    return {
      paymentId: payment.id,
      packageName: pack?.name ?? "Credits",
      credits: payment.credits,
      amountMinor: chargedMinor(payment),
      priceMinor: payment.amountMinor,
      discountMinor: payment.amountDiscountMinor ?? 0,
      taxMinor: payment.amountTaxMinor ?? 0,
      currency: payment.currency,
      paidAt: found.creditedAt ?? payment.createdAt,
      receiptUrl: payment.receiptUrl,
      hostedByProvider: payment.provider !== "local",
    };
  }

  // One of the user's payments, with its receipt once it is paid.
  async function getPayment(
    userId: string,
    paymentId: string,
    beforeProviderCall: BeforeProviderCall = noLimit,
  ): Promise<Payment> {
    const payment = await store.findPayment(paymentId);
    if (!payment || payment.userId !== userId) throw new NotFoundError("payment");
    return withReceipt(payment, beforeProviderCall);
  }

  return { getPayment, receipt };
}
