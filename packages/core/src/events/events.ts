import { z } from "zod";
import { autoTopUpFailureReasons } from "../autotopup/store.ts";

// Every event the platform tells people and systems about (outbound webhooks, email, the live
// balance). One list: the outbox, the webhook endpoints' subscriptions and the README read it.
// Each is written to the outbox in the transaction of the change that caused it (outbox.ts).
const id = z.string().min(1).max(200);
const credits = z.number().int();
const instant = z.iso.datetime({ offset: true });
const currency = z.string().length(3);

export const eventSchemas = {
  // A payment was credited (webhook, success page or reconciliation: at most once per payment).
  "credits.purchased": z.object({
    userId: id,
    paymentId: id,
    packageId: id,
    transactionId: id,
    credits,
    amountMinor: z.number().int().describe("The pack's price when the payment was created"),
    amountPaidMinor: z
      .number()
      .int()
      .describe("What was paid: the price less a promotion code's discount plus tax; 0 when the code took it all"),
    amountDiscountMinor: z.number().int().describe("A promotion code's discount (0 without one)"),
    amountTaxMinor: z.number().int().describe("Tax added to the price (0 without automatic tax)"),
    currency,
    balance: credits,
  }),
  // The balance went below the user's threshold (once per crossing; re-armed above it).
  "credits.low_balance": z.object({ userId: id, balance: credits, threshold: credits, transactionId: id }),
  // The balance reached zero (or below, through a dispute).
  "credits.depleted": z.object({ userId: id, balance: credits, transactionId: id }),
  // A grant's remainder expires soon: once per grant (expiry-notices.ts).
  "credits.expiring": z
    .object({
      userId: id,
      grantId: id.describe("The grant; the user's live grants are listed with their balance"),
      amount: credits.describe("Credits left in the grant when the notice was decided: what expires unless spent"),
      expiresAt: instant.describe("When the grant's remainder expires"),
    })
    .describe(
      "Once per grant with credits left, CREDITS_EXPIRING_NOTICE_DAYS (default 7) days before its expiresAt, " +
        "with an email to the user; a grant spent to 0 before then raises none",
    ),
  // The provider reported (more) money refunded, or a refund's clawback took (more) credits (one
  // posted when the payment is credited after its refund, or a shortfall collected later); the
  // credits clawed back so far for this payment.
  "payment.refunded": z.object({
    userId: id,
    paymentId: id,
    amountRefundedMinor: z.number().int(),
    currency,
    creditsRefunded: credits,
    // Credits the refund wanted but the user had already spent (flagged for review).
    creditsShort: credits,
  }),
  // A refund the provider refused or failed: at once (nothing went back), or later (a bank sent it
  // back: the payment's refunded amount goes down, and credits it clawed back are returned).
  "payment.refund_failed": z.object({
    userId: id,
    paymentId: id,
    refundId: id.nullable().describe("The refund request made from the panel; null for a refund made at the provider"),
    providerRefundId: id.nullable().describe("The provider's refund; null when it refused to make one"),
    amountMinor: z.number().int(),
    currency,
    reason: z.string().describe("The provider's reason, as recorded on the refund"),
  }),
  // A dispute opened or closed; what it holds back now.
  "payment.disputed": z.object({
    userId: id,
    paymentId: id,
    disputeStatus: z.enum(["open", "won", "lost"]),
    creditsDisputed: credits,
  }),
  // An adjustment waits for a second admin.
  "adjustment.pending": z.object({
    adjustmentRequestId: id,
    userId: id,
    amount: credits,
    requestedBy: id,
    expiresAt: instant,
  }),
  // An adjustment request was approved (and applied), rejected, or expired undecided.
  "adjustment.decided": z.object({
    adjustmentRequestId: id,
    userId: id,
    amount: credits,
    decision: z.enum(["approved", "rejected", "expired"]),
    decidedBy: id.nullable(),
    transactionId: id.nullable(),
  }),
  "auto_topup.succeeded": z.object({
    userId: id,
    paymentId: id,
    packageId: id,
    credits,
    amountMinor: z.number().int(),
    currency,
  }),
  "auto_topup.failed": z.object({
    userId: id,
    packageId: id,
    reason: z.enum(autoTopUpFailureReasons),
    consecutiveFailures: z.number().int().min(0),
    // Auto top-up was turned off by this failure (three in a row).
    disabled: z.boolean(),
  }),
} as const;

export type EventType = keyof typeof eventSchemas;
export const eventTypes = Object.keys(eventSchemas) as EventType[];
export type EventData<T extends EventType> = z.infer<(typeof eventSchemas)[T]>;

export const isEventType = (value: string): value is EventType => Object.hasOwn(eventSchemas, value);

// What a receiver gets (Standard Webhooks): the type, when it happened, and the event's data.
export interface EventPayload<T extends EventType = EventType> {
  type: T;
  timestamp: string;
  data: EventData<T>;
}

export interface OutboxEvent {
  // Stable: the webhook-id of every delivery of this event (evt_…).
  id: string;
  // Order of insertion (not of commit: a later seq can commit first).
  seq: number;
  type: EventType;
  userId: string | null;
  payload: EventPayload;
  createdAt: Date;
}

// The port a transaction writes events through. Implemented in packages/db (outbox_emit, SQL).
export interface OutboxStore {
  // Appends the event in the caller's transaction; returns its id.
  emit<T extends EventType>(event: { type: T; userId: string | null; data: EventData<T>; at?: Date }): Promise<string>;
}

// Validates the data against its event's schema: a payload that does not match its documented
// shape is a bug, caught before it is written (and before any receiver sees it).
export function checkedEventData<T extends EventType>(type: T, data: EventData<T>): EventData<T> {
  return eventSchemas[type].parse(data) as EventData<T>;
}
