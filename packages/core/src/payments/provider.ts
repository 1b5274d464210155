// The payment provider port: what the payment rules need from Stripe (or the local test-mode
// provider), in our own shapes. No provider SDK type crosses it.

export interface CheckoutRequest {
  paymentId: string;
  userId: string;
  productName: string;
  credits: number;
  amountMinor: number;
  currency: string;
  // The provider customer to reuse; null when the user has none yet.
  customerId: string | null;
  customerEmail: string | null;
  successUrl: string;
  cancelUrl: string;
  // Derived from our payment id, so a retried create (even after a restart) makes one session.
  idempotencyKey: string;
  // The user opted into auto top-up and has no saved card: keep this one for off-session charges.
  saveCard?: boolean;
}

export interface CheckoutSessionInfo {
  id: string;
  // Our payment id, from client_reference_id (metadata as a fallback).
  paymentId: string | null;
  status: "open" | "complete" | "expired";
  paymentStatus: "paid" | "unpaid" | "no_payment_required";
  // What the customer pays (amount_total): the subtotal, less discounts, plus tax.
  amountTotalMinor: number | null;
  // What the session sold before discounts and tax (amount_subtotal): our price; and the
  // session's own discounts and tax (total_details). Null when the provider did not say.
  amountSubtotalMinor: number | null;
  amountDiscountMinor: number | null;
  amountTaxMinor: number | null;
  currency: string | null;
  paymentIntentId: string | null;
  customerId: string | null;
  url: string | null;
}

// A session the customer completed that owes nothing more: paid, or completed with nothing to pay.
// A promotion code can take the whole price: Stripe then completes the session as
// "no_payment_required" with amount_total 0, and makes no PaymentIntent and no charge (no receipt,
// no refund, no dispute), and checkout.session.completed is its only event. Its figures are still
// checked against our payment before crediting (paidAmountProblem).
export function sessionSettled(session: Pick<CheckoutSessionInfo, "status" | "paymentStatus">): boolean {
  return (
    session.paymentStatus === "paid" ||
    (session.paymentStatus === "no_payment_required" && session.status === "complete")
  );
}

// A PaymentIntent: an auto top-up's off-session charge, or the one behind a Checkout.
export interface PaymentIntentInfo {
  id: string;
  // Our payment id, from the PaymentIntent's metadata (we put it there, on both kinds).
  paymentId: string | null;
  status:
    | "succeeded"
    | "processing"
    | "requires_payment_method"
    | "requires_action"
    | "requires_confirmation"
    | "requires_capture"
    | "canceled";
  amountMinor: number;
  currency: string;
  customerId: string | null;
  paymentMethodId: string | null;
  // setup_future_usage is off_session: the card may be charged later without the customer.
  savedForOffSession: boolean;
  // Why the last charge failed (card_declined, authentication_required, …); null when it did not.
  failureCode: string | null;
}

// An off-session charge of a saved card. The key is derived from the auto top-up attempt, so a
// retried request (even after a restart) makes one PaymentIntent.
export interface OffSessionCharge {
  paymentId: string;
  userId: string;
  customerId: string;
  paymentMethodId: string;
  amountMinor: number;
  currency: string;
  description: string;
  idempotencyKey: string;
}

export interface ChargeInfo {
  id: string;
  paymentIntentId: string | null;
  amountMinor: number;
  // Cumulative, as the provider reports it.
  amountRefundedMinor: number;
  currency: string;
  // The provider's hosted receipt for the charge; null when it has none.
  receiptUrl: string | null;
}

export interface DisputeInfo {
  id: string;
  chargeId: string | null;
  paymentIntentId: string | null;
  amountMinor: number;
  status: string;
  // Set once the dispute is closed.
  outcome: "won" | "lost" | null;
}

export type ProviderEvent =
  | { id: string; type: "checkout.completed"; session: CheckoutSessionInfo }
  | { id: string; type: "checkout.async_succeeded"; session: CheckoutSessionInfo }
  | { id: string; type: "checkout.async_failed"; session: CheckoutSessionInfo }
  | { id: string; type: "checkout.expired"; session: CheckoutSessionInfo }
  | { id: string; type: "charge.refunded"; charge: ChargeInfo }
  // refund.created, refund.updated, refund.failed and charge.refund.updated: one refund as it stood.
  | { id: string; type: "refund.updated"; refund: RefundInfo }
  | { id: string; type: "dispute.created"; dispute: DisputeInfo }
  | { id: string; type: "dispute.closed"; dispute: DisputeInfo }
  | { id: string; type: "payment_intent.succeeded"; paymentIntent: PaymentIntentInfo }
  | { id: string; type: "payment_intent.failed"; paymentIntent: PaymentIntentInfo }
  // Any other event type: recorded and acknowledged, never acted on.
  | { id: string; type: "ignored"; providerType: string };

// A refund of (part of) a paid payment intent. The idempotency key is derived from our refund row,
// itself keyed by the requesting admin's key: a retry, or a second approval, makes one refund.
// How long after its first use an idempotency key surely still names the same request at the
// provider (Stripe prunes keys once they are 24 hours old, then makes a new object): an hour less.
export const PROVIDER_IDEMPOTENCY_WINDOW_MS = 23 * 60 * 60 * 1000;

// A payment is refunded in a few parts at most; a list longer than this is not a payment of ours.
export const MAX_REFUNDS_LISTED = 100;

export interface RefundRequest {
  paymentIntentId: string;
  amountMinor: number;
  metadata: Record<string, string>;
  idempotencyKey: string;
}

export const providerRefundStatuses = ["succeeded", "pending", "requires_action", "failed", "canceled"] as const;
// A refund that ends failed or canceled moved no money, and never leaves that status again.
export const UNDONE_REFUND_STATUSES: readonly ProviderRefundStatus[] = ["failed", "canceled"];
export type ProviderRefundStatus = (typeof providerRefundStatuses)[number];

export interface RefundInfo {
  id: string;
  // The provider's own refund status; "pending" refunds are on their way (counted as refunded).
  status: ProviderRefundStatus;
  amountMinor: number;
  paymentIntentId: string | null;
  chargeId: string | null;
  // Our refund request's id, from the metadata we sent (null for a refund made elsewhere).
  refundRequestId: string | null;
  // Why the provider could not pay it back (failed refunds only), in its words.
  failureReason: string | null;
  // The refunded charge as it stands after this refund (its cumulative amountRefundedMinor is the
  // same fact the charge.refunded event reports); null when the provider did not say.
  charge: ChargeInfo | null;
}

export interface ListWindow {
  createdFrom: Date;
  createdTo: Date;
}

export interface PaymentProvider {
  readonly name: "stripe" | "local";
  // Creates (or, with the same idempotency key, returns) a customer for the user.
  createCustomer(input: { userId: string; email: string | null; idempotencyKey: string }): Promise<string>;
  createCheckoutSession(request: CheckoutRequest): Promise<{ sessionId: string; url: string }>;
  retrieveCheckoutSession(sessionId: string): Promise<CheckoutSessionInfo>;
  // Expires an open session so it can no longer be paid, and answers it as it now stands.
  // Refuses (ProviderRefusedError) a session that is no longer open: completed or expired.
  expireCheckoutSession(sessionId: string): Promise<CheckoutSessionInfo>;
  // Verifies the signature over the exact raw body and maps the event; throws
  // WebhookSignatureError when the signature, or its timestamp, is not acceptable.
  parseWebhook(rawBody: string, signatureHeader: string | null): ProviderEvent;
  // For reconciliation: every page, bounded by the window.
  listCheckoutSessions(window: ListWindow): AsyncIterable<CheckoutSessionInfo>;
  listCharges(window: ListWindow): AsyncIterable<ChargeInfo>;
  // The off-session PaymentIntents (auto top-ups) created in the window; Checkout's are not listed.
  listOffSessionPaymentIntents(window: ListWindow): AsyncIterable<PaymentIntentInfo>;
  // Refuses (ProviderRefusedError) what the provider will not do: more than the charge has left,
  // an unknown or disputed payment.
  createRefund(request: RefundRequest): Promise<RefundInfo>;
  // Every refund of a payment intent as it now stands (at most MAX_REFUNDS_LISTED).
  listRefunds(paymentIntentId: string): Promise<RefundInfo[]>;
  // Charges a saved card without the customer. A decline or a required authentication is not an
  // error: it comes back as the PaymentIntent, with its failureCode.
  chargeOffSession(request: OffSessionCharge): Promise<PaymentIntentInfo>;
  retrievePaymentIntent(paymentIntentId: string): Promise<PaymentIntentInfo>;
  // Detaches a saved card from the customer, so it can no longer be charged off-session. One
  // already detached (a retry, the dashboard) or unknown is done as well.
  detachPaymentMethod(card: { paymentMethodId: string; customerId: string | null }): Promise<void>;
  // The receipt of a paid payment: Stripe's hosted receipt of its charge, or the local provider's
  // own page. Null when the provider has none (yet).
  receiptUrl(payment: { id: string; paymentIntentId: string }): Promise<string | null>;
  // GDPR erasure: removes the customer and the personal data the provider holds for it.
  deleteCustomer(customerId: string): Promise<void>;
}

export class WebhookSignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookSignatureError";
  }
}

// The signature verified (the body really came from whoever holds the secret), but the body is
// not an event we can read: not JSON, not an event, or an event whose object lacks a field we
// need. Its own outcome: refused (400, nothing stored) and counted apart from forged deliveries.
export class WebhookPayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookPayloadError";
  }
}

// The provider could not be reached or answered with an error (5xx, timeout): nothing was created.
export class ProviderUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ProviderUnavailableError";
  }
}

// Another request under the same idempotency key is still running at the provider (Stripe: 409,
// idempotency_key_in_use), or the object is locked by one (lock_timeout). Not an answer: the first
// request's outcome is the one that counts, and it arrives by its own answer, webhook or a later
// ask. Callers that do not tell it apart treat it as unavailable.
export class ProviderInProgressError extends ProviderUnavailableError {
  constructor(message: string) {
    super(message);
    this.name = "ProviderInProgressError";
  }
}

// The provider understood the request and refused it (a 4xx: over-refund, unknown payment intent,
// idempotency key reused with other parameters). Nothing was done; repeating it changes nothing.
export class ProviderRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProviderRefusedError";
  }
}
