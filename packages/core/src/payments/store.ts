import type { AutoTopUpStore } from "../autotopup/store.ts";
import type { OutboxStore } from "../events/events.ts";
import type { LedgerStore } from "../ledger.ts";
import type { RefundStore } from "./refund-store.ts";
import type { DisputeStatus, PaymentStatus } from "./state.ts";

// What the inbox records for an event: acted on, or verified and deliberately not acted on.
export const processedEventStatuses = ["processed", "ignored"] as const;
export type ProcessedEventStatus = (typeof processedEventStatuses)[number];

export interface Payment {
  id: string;
  userId: string;
  packageId: string;
  credits: number;
  // The pack's price when the payment was created: what the provider's session must sell.
  amountMinor: number;
  currency: string;
  // What the provider's session says was paid, recorded when it is credited (null before, and for
  // payments credited before these were kept): amount_total, amount_subtotal and its
  // total_details' discount and tax. With a promotion code or tax the total differs from the price.
  amountPaidMinor: number | null;
  amountSubtotalMinor: number | null;
  amountDiscountMinor: number | null;
  amountTaxMinor: number | null;
  // The pack's creditExpiryDays when the payment was created: the purchase's grant expires this
  // many days after it is credited; null: never.
  creditExpiryDays: number | null;
  status: PaymentStatus;
  provider: string;
  providerSessionId: string | null;
  providerPaymentIntentId: string | null;
  providerChargeId: string | null;
  amountRefundedMinor: number;
  disputeStatus: DisputeStatus | null;
  // The dispute's amount (it may cover part of the charge); null with none, or recorded before 0040.
  disputeAmountMinor: number | null;
  creditsRefunded: number;
  creditsDisputed: number;
  reviewReason: string | null;
  // The client's key for starting this checkout, and where its session can be paid.
  idempotencyKey: string | null;
  checkoutUrl: string | null;
  // The provider's receipt for the paid payment, once known (Stripe: the charge's receipt_url).
  receiptUrl: string | null;
  creditedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export type PaymentPatch = Partial<
  Pick<
    Payment,
    | "status"
    | "providerSessionId"
    | "providerPaymentIntentId"
    | "providerChargeId"
    | "amountRefundedMinor"
    | "amountPaidMinor"
    | "amountSubtotalMinor"
    | "amountDiscountMinor"
    | "amountTaxMinor"
    | "disputeStatus"
    | "disputeAmountMinor"
    | "creditsRefunded"
    | "creditsDisputed"
    | "reviewReason"
    | "creditedAt"
    | "checkoutUrl"
    | "receiptUrl"
  >
>;

export interface PaymentStore {
  // One database transaction with the payments, their refunds, the ledger and the outbox side by side.
  transaction<T>(
    work: (tx: {
      payments: PaymentStore;
      ledger: LedgerStore;
      outbox: OutboxStore;
      refunds: RefundStore;
      autoTopUps: AutoTopUpStore;
    }) => Promise<T>,
  ): Promise<T>;
  // Outside a transaction: reads.
  refunds: RefundStore;
  insertPayment(payment: {
    userId: string;
    packageId: string;
    credits: number;
    amountMinor: number;
    currency: string;
    creditExpiryDays: number | null;
    provider: string;
    idempotencyKey: string | null;
  }): Promise<Payment | null>;
  findPayment(id: string): Promise<Payment | null>;
  findPaymentBySession(providerSessionId: string): Promise<Payment | null>;
  // The payment a user started with this checkout key.
  findPaymentByKey(userId: string, idempotencyKey: string): Promise<Payment | null>;
  listUserPayments(userId: string, limit: number): Promise<Payment[]>;
  // The payments noted for a settle after their credits expired (0050), oldest first; `id` names
  // the note. Claimed in the settle's transaction, by note (one written since stays): false when
  // it is gone (claimed by another pass).
  expirySettlesDue(limit: number): Promise<{ paymentId: string; id: string }[]>;
  claimExpirySettle(paymentId: string, id: string): Promise<boolean>;
  // Row-locked for the rest of the transaction: one event at a time applies to a payment.
  lockPayment(id: string): Promise<Payment | null>;
  lockPaymentByProviderRef(ref: { paymentIntentId: string | null; chargeId: string | null }): Promise<Payment | null>;
  updatePayment(id: string, patch: PaymentPatch): Promise<Payment>;
  recordTransition(transition: {
    paymentId: string;
    from: PaymentStatus;
    to: PaymentStatus;
    source: string;
  }): Promise<void>;
  // Serializes deliveries of one event id for the rest of the transaction; true when the event was
  // recorded before (read after the lock: a concurrent delivery that held it has committed).
  lockEvent(eventId: string): Promise<boolean>;
  // Records the event in the inbox; false when it was recorded before (a duplicate delivery).
  recordEvent(event: {
    id: string;
    provider: string;
    type: string;
    status: ProcessedEventStatus;
    payload: string | null;
  }): Promise<boolean>;
  // saveCard: the user opted into auto top-up and has no saved card yet (the next Checkout saves one).
  getBillingProfile(
    userId: string,
  ): Promise<{ email: string | null; providerCustomerId: string | null; saveCard: boolean } | null>;
  // Stores a new checkout's session on its payment under the user's row lock, so an erasure
  // committing meanwhile is seen: either it finds the session stored (and queues its expiry), or
  // this finds the user erased and queues the expiry itself, storing nothing (false).
  storeCheckoutSession(payment: { id: string; userId: string }, session: { id: string; url: string }): Promise<boolean>;
  // Whether the user was erased, under a key-share lock on the user's row (already held in a
  // transaction that posted to the ledger): an erasure is either seen, or waits for this
  // transaction to commit (and then scrubs what it stored).
  isUserErased(userId: string): Promise<boolean>;
  // Stores the customer id unless one is already stored; returns the one that is stored. Null when
  // the user is gone or erased: the given customer is then queued for deletion at the provider.
  setProviderCustomer(userId: string, customerId: string): Promise<string | null>;
  // The credits promotion codes left unpaid on the user's purchases credited within the last
  // windowMs, from their audit rows (payment.promotion_applied / _review, written in the
  // crediting transaction). Call it under the user's balance lock.
  unpaidPromotionCredits(userId: string, windowMs: number): Promise<number>;
}
