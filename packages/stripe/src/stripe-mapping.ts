import {
  type ChargeInfo,
  type CheckoutSessionInfo,
  type DisputeInfo,
  type PaymentIntentInfo,
  type ProviderEvent,
  providerRefundStatuses,
  type RefundInfo,
} from "@credits/core";

// Maps Stripe objects (from an API response or a verified webhook body) to the port's shapes.
// Everything is read from `unknown`, field by field: webhook bodies are plain JSON while SDK
// responses carry Decimal/BigInt objects, fields may be null, and references such as
// `payment_intent` or `customer` may arrive as an id or as an expanded object. Reading only the
// fields we need means neither shape can leak past this package.

type Fields = Record<string, unknown>;

// A verified body that is not the Stripe object we expect. Thrown here and turned into a
// WebhookPayloadError (or a plain Error for API responses) by the caller.
export class StripeShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StripeShapeError";
  }
}

export function isFields(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// Stripe ids are at most 255 characters, and no Stripe string holds NUL (which PostgreSQL text
// cannot store). Anything else is not from Stripe: read as missing, so a signed but impossible
// event is refused (400) or names nothing, rather than failing its database write with a 500
// that would be retried for days. Also keeps ids within what a unique index entry can hold.
const MAX_ID_LENGTH = 255;

function text(object: Fields, key: string): string | null {
  const value = object[key];
  return typeof value === "string" && value.length > 0 && !value.includes("\u0000") ? value : null;
}

function requiredText(object: Fields, key: string): string {
  const value = text(object, key);
  if (value === null) throw new StripeShapeError(`${String(object.object)}.${key} is missing`);
  return value;
}

function requiredId(object: Fields, key: string): string {
  const value = requiredText(object, key);
  if (value.length > MAX_ID_LENGTH) throw new StripeShapeError(`${String(object.object)}.${key} is not a Stripe id`);
  return value;
}

// Amounts are integer minor units; anything else (a float, a string, a BigInt) is refused rather
// than coerced, so a surprising shape can never turn into a wrong credit amount.
function amount(object: Fields, key: string): number | null {
  const value = object[key];
  if (value === null || value === undefined) return null;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new StripeShapeError(`${String(object.object)}.${key} is not a non-negative integer`);
  }
  return value;
}

function requiredAmount(object: Fields, key: string): number {
  const value = amount(object, key);
  if (value === null) throw new StripeShapeError(`${String(object.object)}.${key} is missing`);
  return value;
}

// An id, or an expanded object holding one.
function reference(object: Fields, key: string): string | null {
  const value = object[key];
  const id = typeof value === "string" ? text(object, key) : isFields(value) ? text(value, "id") : null;
  return id !== null && id.length <= MAX_ID_LENGTH ? id : null;
}

function expectObject(value: unknown, objectType: string): Fields {
  if (!isFields(value) || value.object !== objectType) {
    throw new StripeShapeError(`expected a ${objectType} object`);
  }
  return value;
}

const SESSION_STATUSES = ["open", "complete", "expired"] as const;
const PAYMENT_STATUSES = ["paid", "unpaid", "no_payment_required"] as const;

function oneOf<T extends string>(allowed: readonly T[], value: unknown, fallback: T): T {
  return allowed.find((candidate) => candidate === value) ?? fallback;
}

export function toCheckoutSession(value: unknown): CheckoutSessionInfo {
  const session = expectObject(value, "checkout.session");
  const metadata = isFields(session.metadata) ? session.metadata : {};
  return {
    id: requiredId(session, "id"),
    paymentId: text(session, "client_reference_id") ?? text(metadata, "paymentId"),
    // Stripe documents `status` as nullable; an unknown or missing one is treated as still open,
    // which never fulfils anything (fulfilment keys off paymentStatus "paid").
    status: oneOf(SESSION_STATUSES, session.status, "open"),
    // Likewise an unknown payment status is "unpaid": credits are only granted for "paid".
    paymentStatus: oneOf(PAYMENT_STATUSES, session.payment_status, "unpaid"),
    amountTotalMinor: amount(session, "amount_total"),
    amountSubtotalMinor: amount(session, "amount_subtotal"),
    // total_details is null on sessions that have none; its amounts may be null too.
    amountDiscountMinor: isFields(session.total_details) ? amount(session.total_details, "amount_discount") : null,
    amountTaxMinor: isFields(session.total_details) ? amount(session.total_details, "amount_tax") : null,
    currency: text(session, "currency"),
    paymentIntentId: reference(session, "payment_intent"),
    customerId: reference(session, "customer"),
    url: text(session, "url"),
  };
}

export function toCharge(value: unknown): ChargeInfo {
  const charge = expectObject(value, "charge");
  return {
    id: requiredId(charge, "id"),
    paymentIntentId: reference(charge, "payment_intent"),
    amountMinor: requiredAmount(charge, "amount"),
    amountRefundedMinor: requiredAmount(charge, "amount_refunded"),
    currency: requiredText(charge, "currency"),
    receiptUrl: receiptUrl(charge),
  };
}

const INTENT_STATUSES = [
  "succeeded",
  "processing",
  "requires_payment_method",
  "requires_action",
  "requires_confirmation",
  "requires_capture",
  "canceled",
] as const;

// A PaymentIntent (an off-session charge's answer, a payment_intent.* event, or the one attached
// to a card error). Its last_payment_error says why a charge failed.
export function toPaymentIntent(value: unknown): PaymentIntentInfo {
  const intent = expectObject(value, "payment_intent");
  const status = INTENT_STATUSES.find((candidate) => candidate === intent.status);
  if (!status) throw new StripeShapeError("payment_intent.status is not a known status");
  const metadata = isFields(intent.metadata) ? intent.metadata : {};
  const error = isFields(intent.last_payment_error) ? intent.last_payment_error : {};
  return {
    id: requiredId(intent, "id"),
    paymentId: text(metadata, "paymentId"),
    status,
    amountMinor: requiredAmount(intent, "amount"),
    currency: requiredText(intent, "currency"),
    customerId: reference(intent, "customer"),
    paymentMethodId: reference(intent, "payment_method"),
    savedForOffSession: intent.setup_future_usage === "off_session",
    failureCode: status === "succeeded" ? null : text(error, "code"),
  };
}

// Only an https URL of bounded length is kept: it is shown to the customer as a link.
const MAX_URL_LENGTH = 2048;

function receiptUrl(charge: Fields): string | null {
  const value = text(charge, "receipt_url");
  if (value === null || value.length > MAX_URL_LENGTH) return null;
  return URL.canParse(value) && new URL(value).protocol === "https:" ? value : null;
}

// The receipt of a PaymentIntent's charge: retrieved with latest_charge expanded.
export function toReceiptUrl(value: unknown): string | null {
  const intent = expectObject(value, "payment_intent");
  return isFields(intent.latest_charge) ? receiptUrl(intent.latest_charge) : null;
}

// A refund as refunds.create answers it (with `charge` expanded: the charge's cumulative
// amount_refunded is the fact the refund path applies), as refunds.list lists it, or as a refund
// event carries it (`charge` an id).
export function toRefund(value: unknown): RefundInfo {
  const refund = expectObject(value, "refund");
  const status = providerRefundStatuses.find((candidate) => candidate === refund.status);
  if (!status) throw new StripeShapeError("refund.status is not a known status");
  const metadata = isFields(refund.metadata) ? refund.metadata : {};
  return {
    id: requiredId(refund, "id"),
    status,
    amountMinor: requiredAmount(refund, "amount"),
    paymentIntentId: reference(refund, "payment_intent"),
    chargeId: reference(refund, "charge"),
    refundRequestId: text(metadata, "refundId"),
    failureReason: text(refund, "failure_reason"),
    charge: isFields(refund.charge) ? toCharge(refund.charge) : null,
  };
}

export function toDispute(value: unknown): DisputeInfo {
  const dispute = expectObject(value, "dispute");
  const status = requiredText(dispute, "status");
  return {
    id: requiredId(dispute, "id"),
    chargeId: reference(dispute, "charge"),
    paymentIntentId: reference(dispute, "payment_intent"),
    amountMinor: requiredAmount(dispute, "amount"),
    status,
    // Only a closed dispute has an outcome; "warning_closed" (an inquiry that never became a
    // chargeback) and anything new are neither won nor lost.
    outcome: status === "won" ? "won" : status === "lost" ? "lost" : null,
  };
}

// The typed map from Stripe event type to our event: one entry each, everything else ignored.
const EVENT_MAP: Record<string, (id: string, object: unknown) => ProviderEvent> = {
  "checkout.session.completed": (id, object) => ({
    id,
    type: "checkout.completed",
    session: toCheckoutSession(object),
  }),
  "checkout.session.async_payment_succeeded": (id, object) => ({
    id,
    type: "checkout.async_succeeded",
    session: toCheckoutSession(object),
  }),
  "checkout.session.async_payment_failed": (id, object) => ({
    id,
    type: "checkout.async_failed",
    session: toCheckoutSession(object),
  }),
  "checkout.session.expired": (id, object) => ({ id, type: "checkout.expired", session: toCheckoutSession(object) }),
  "charge.refunded": (id, object) => ({ id, type: "charge.refunded", charge: toCharge(object) }),
  // A refund's status changed (a pending refund failed, say): the refund path decides from it.
  "refund.updated": (id, object) => ({ id, type: "refund.updated", refund: toRefund(object) }),
  "refund.failed": (id, object) => ({ id, type: "refund.updated", refund: toRefund(object) }),
  "charge.refund.updated": (id, object) => ({ id, type: "refund.updated", refund: toRefund(object) }),
  "charge.dispute.created": (id, object) => ({ id, type: "dispute.created", dispute: toDispute(object) }),
  "charge.dispute.closed": (id, object) => ({ id, type: "dispute.closed", dispute: toDispute(object) }),
  "payment_intent.succeeded": (id, object) => ({
    id,
    type: "payment_intent.succeeded",
    paymentIntent: toPaymentIntent(object),
  }),
  "payment_intent.payment_failed": (id, object) => ({
    id,
    type: "payment_intent.failed",
    paymentIntent: toPaymentIntent(object),
  }),
};

export function toProviderEvent(value: unknown): ProviderEvent {
  const event = expectObject(value, "event");
  const id = requiredId(event, "id");
  const type = requiredText(event, "type");
  const map = Object.hasOwn(EVENT_MAP, type) ? EVENT_MAP[type] : undefined;
  if (!map) return { id, type: "ignored", providerType: type };
  if (!isFields(event.data)) throw new StripeShapeError("event.data is missing");
  return map(id, event.data.object);
}
