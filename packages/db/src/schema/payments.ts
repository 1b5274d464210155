// What is sold, what was paid, and the provider's events about it.
import {
  disputeStatuses,
  MAX_NAME_LENGTH,
  MAX_UNIT_AMOUNT,
  PACKAGE_LIMITS,
  paymentStatuses,
  processedEventStatuses,
  refundOrigins,
  refundStatuses,
} from "@credits/core";
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  pgEnum,
  pgTable,
  primaryKey,
  smallint,
  text,
  unique,
  uuid,
} from "drizzle-orm/pg-core";
import { users } from "./accounts.ts";
import { createdAt, credits, MAX_OP, tsz } from "./columns.ts";

export const creditPackages = pgTable(
  "credit_packages",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    slug: text("slug").notNull().unique(),
    name: text("name").notNull(),
    credits: credits("credits").notNull(),
    // Days a purchase's credits stay spendable; NULL: they never expire.
    creditExpiryDays: integer("credit_expiry_days"),
    // Display order, lowest first.
    position: integer("position").notNull().default(0),
    // Shown as the "best value" pack.
    highlight: boolean("highlight").notNull().default(false),
    // No longer sold; payments already started on it still complete.
    archivedAt: tsz("archived_at"),
    // Priced below every pack on sale: not sold until a second admin approves (ADR 015).
    awaitingApproval: boolean("awaiting_approval").notNull().default(false),
    // The admin who created the pack, and their key for that request (a retried create finds it).
    createdBy: uuid("created_by").references(() => users.id),
    idempotencyKey: text("idempotency_key"),
    createdAt: createdAt(),
    updatedAt: tsz("updated_at").notNull().defaultNow(),
  },
  (t) => [
    unique("packages_creator_key_unique").on(t.createdBy, t.idempotencyKey),
    check("packages_credits_positive", sql`${t.credits} > 0 AND ${t.credits} <= ${sql.raw(String(MAX_OP))}`),
    check("packages_credit_expiry_positive", sql`${t.creditExpiryDays} IS NULL OR ${t.creditExpiryDays} > 0`),
    check(
      "packages_credit_expiry_bounded",
      sql`${t.creditExpiryDays} IS NULL OR ${t.creditExpiryDays} <= ${sql.raw(String(PACKAGE_LIMITS.creditExpiryDays.max))}`,
    ),
    check(
      "packages_position_range",
      sql`${t.position} >= ${sql.raw(String(PACKAGE_LIMITS.position.min))} AND ${t.position} <= ${sql.raw(String(PACKAGE_LIMITS.position.max))}`,
    ),
    check("packages_name_bounded", sql`char_length(${t.name}) BETWEEN 1 AND ${sql.raw(String(MAX_NAME_LENGTH))}`),
  ],
);

// A pack's prices, one per currency, in integer minor units of that currency (core/money.ts).
export const creditPackagePrices = pgTable(
  "credit_package_prices",
  {
    packageId: uuid("package_id")
      .notNull()
      .references(() => creditPackages.id),
    currency: text("currency").notNull(),
    unitAmount: bigint("unit_amount", { mode: "number" }).notNull(),
    // The order the admin gave the prices in: the first is the pack's default price.
    sortOrder: smallint("sort_order").notNull(),
  },
  (t) => [
    primaryKey({ name: "credit_package_prices_pkey", columns: [t.packageId, t.currency] }),
    check("package_prices_currency_iso", sql`${t.currency} ~ '^[a-z]{3}$'`),
    check(
      "package_prices_amount_bounded",
      sql`${t.unitAmount} > 0 AND ${t.unitAmount} <= ${sql.raw(String(MAX_UNIT_AMOUNT))}`,
    ),
    check(
      "package_prices_sort_order_range",
      sql`${t.sortOrder} >= 0 AND ${t.sortOrder} < ${sql.raw(String(PACKAGE_LIMITS.maxPrices))}`,
    ),
  ],
);

export const paymentStatus = pgEnum("payment_status", paymentStatuses);

export const disputeStatus = pgEnum("dispute_status", disputeStatuses);

export const payments = pgTable(
  "payments",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id),
    packageId: uuid("package_id")
      .notNull()
      .references(() => creditPackages.id),
    // Copied from the package when the payment is created: what the user was sold, whatever the
    // package says later. Credits are granted from here, never from the provider's data.
    credits: credits("credits").notNull(),
    amountMinor: bigint("amount_minor", { mode: "number" }).notNull(),
    currency: text("currency").notNull(),
    // What the provider's session says was paid, recorded when the payment is credited (0023):
    // amount_total, amount_subtotal (our price), and the session's own discount and tax. NULL
    // before, and on payments credited before 0023 (their amount paid is amount_minor).
    amountPaidMinor: bigint("amount_paid_minor", { mode: "number" }),
    amountSubtotalMinor: bigint("amount_subtotal_minor", { mode: "number" }),
    amountDiscountMinor: bigint("amount_discount_minor", { mode: "number" }),
    amountTaxMinor: bigint("amount_tax_minor", { mode: "number" }),
    // The pack's creditExpiryDays when the payment was created (NULL: the credits never expire).
    creditExpiryDays: integer("credit_expiry_days"),
    status: paymentStatus("status").notNull().default("created"),
    provider: text("provider").notNull(),
    providerSessionId: text("provider_session_id").unique(),
    providerPaymentIntentId: text("provider_payment_intent_id").unique(),
    providerChargeId: text("provider_charge_id").unique(),
    // Facts reported by the provider; each only moves forward. The status is derived from them,
    // so events applied in any order end in the same state.
    amountRefundedMinor: bigint("amount_refunded_minor", { mode: "number" }).notNull().default(0),
    disputeStatus: disputeStatus("dispute_status"),
    // The dispute's amount as the provider reported it (0040): a dispute may cover part of the
    // charge. NULL with no dispute, or one recorded before 0040 (taken as the whole charge).
    disputeAmountMinor: bigint("dispute_amount_minor", { mode: "number" }),
    // Credits taken back so far, per cause (the ledger rows say the same, row by row).
    creditsRefunded: credits("credits_refunded").notNull().default(0),
    creditsDisputed: credits("credits_disputed").notNull().default(0),
    // Why the payment needs a person (amount or currency mismatch, a clawback short of
    // credits); a mismatched payment is never credited.
    reviewReason: text("review_reason"),
    // The client's key for starting this checkout (unique per user): a double submit finds this
    // payment and its provider session instead of creating another.
    idempotencyKey: text("idempotency_key"),
    checkoutUrl: text("checkout_url"),
    // The provider's receipt for the paid payment (Stripe: the charge's receipt_url), once known.
    receiptUrl: text("receipt_url"),
    creditedAt: tsz("credited_at"),
    createdAt: createdAt(),
    updatedAt: tsz("updated_at").notNull().defaultNow(),
  },
  (t) => [
    index("payments_user_idx").on(t.userId, t.createdAt),
    index("payments_created_idx").on(t.createdAt),
    unique("payments_user_idempotency_key_unique").on(t.userId, t.idempotencyKey),
    check("payments_amount_positive", sql`${t.amountMinor} > 0 AND ${t.credits} > 0`),
    check(
      "payments_refund_bounded",
      sql`${t.amountRefundedMinor} >= 0 AND ${t.amountRefundedMinor} <= coalesce(${t.amountPaidMinor}, ${t.amountMinor})`,
    ),
    check(
      "payments_paid_amounts_valid",
      sql`${t.amountPaidMinor} IS NULL OR (${t.amountPaidMinor} >= 0 AND ${t.amountSubtotalMinor} >= 0 AND ${t.amountDiscountMinor} >= 0 AND ${t.amountTaxMinor} >= 0)`,
    ),
    check(
      "payments_clawback_bounded",
      sql`${t.creditsRefunded} >= 0 AND ${t.creditsDisputed} >= 0 AND ${t.creditsRefunded} + ${t.creditsDisputed} <= ${t.credits}`,
    ),
    check("payments_dispute_amount_valid", sql`${t.disputeAmountMinor} IS NULL OR ${t.disputeAmountMinor} >= 0`),
    check("payments_currency_iso", sql`${t.currency} ~ '^[a-z]{3}$'`),
    check("payments_receipt_url_bounded", sql`${t.receiptUrl} IS NULL OR char_length(${t.receiptUrl}) <= 2048`),
    check("payments_credit_expiry_positive", sql`${t.creditExpiryDays} IS NULL OR ${t.creditExpiryDays} > 0`),
  ],
);

// Every state change of a payment, with its time and the event that caused it.
export const paymentTransitions = pgTable(
  "payment_transitions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    // Order of the transitions of one payment (made under its row lock); timestamps can tie.
    seq: bigint("seq", { mode: "number" }).generatedAlwaysAsIdentity(),
    paymentId: uuid("payment_id")
      .notNull()
      .references(() => payments.id),
    fromStatus: paymentStatus("from_status").notNull(),
    toStatus: paymentStatus("to_status").notNull(),
    // e.g. a Stripe event id, "success_page", "reconciliation".
    source: text("source").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("payment_transitions_payment_idx").on(t.paymentId, t.createdAt)],
);

export const processedEventStatus = pgEnum("processed_event_status", processedEventStatuses);

// The webhook inbox: one row per provider event id, written in the transaction that applies the
// event, so a failed event leaves no row and the provider's retry is processed afresh.
export const processedEvents = pgTable("processed_events", {
  id: text("id").primaryKey(),
  provider: text("provider").notNull(),
  type: text("type").notNull(),
  status: processedEventStatus("status").notNull(),
  // The raw body that was verified; kept as text (a parsed SDK object may not serialize).
  payload: text("payload"),
  receivedAt: createdAt(),
});

export const refundStatus = pgEnum("refund_status", refundStatuses);

// Refunds asked for from the admin panel or API (0016): who asked, who approved above the
// threshold, and the provider's refund id once it accepted. The credits taken back are recorded
// on the payment and in the ledger (the refund path), never here.
export const paymentRefunds = pgTable(
  "payment_refunds",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    paymentId: uuid("payment_id")
      .notNull()
      .references(() => payments.id),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id),
    amountMinor: bigint("amount_minor", { mode: "number" }).notNull(),
    currency: text("currency").notNull(),
    reason: text("reason").notNull(),
    idempotencyKey: text("idempotency_key").notNull().unique(),
    status: refundStatus("status").notNull(),
    requestedBy: uuid("requested_by")
      .notNull()
      .references(() => users.id),
    decidedBy: uuid("decided_by").references(() => users.id),
    decidedAt: tsz("decided_at"),
    expiresAt: tsz("expires_at").notNull(),
    providerRefundId: text("provider_refund_id").unique(),
    failureReason: text("failure_reason"),
    // 'erasure': the system's full refund of a payment completed after its user was erased (ADR
    // 025, migration 0042: a check and a trigger admit it for nothing else).
    origin: text("origin", { enum: refundOrigins }).notNull().default("admin"),
    // The payment's refunded amount counts this refund (0047): set from what names it (the
    // provider's refund list, its own answer); the others are counted beyond it (inFlightMinor).
    countedInRefunded: boolean("counted_in_refunded").notNull().default(false),
    createdAt: createdAt(),
    updatedAt: tsz("updated_at").notNull().defaultNow(),
  },
  (t) => [
    index("payment_refunds_payment_idx").on(t.paymentId, t.createdAt),
    index("payment_refunds_pending_idx").on(t.createdAt).where(sql`${t.status} = 'pending'`),
    // Reconciliation's refunds left processing, oldest sent first (listUnanswered, migration 0033).
    index("payment_refunds_processing_idx")
      .on(sql`coalesce(${t.decidedAt}, ${t.createdAt})`, t.id)
      .where(sql`${t.status} = 'processing'`),
    index("payment_refunds_user_idx").on(t.userId, t.createdAt, t.id),
    check("payment_refunds_amount_positive", sql`${t.amountMinor} > 0`),
    check("payment_refunds_currency_iso", sql`${t.currency} ~ '^[a-z]{3}$'`),
    check("payment_refunds_reason_present", sql`length(trim(${t.reason})) > 0`),
    check(
      "payment_refunds_second_person",
      sql`${t.decidedBy} IS NULL OR (${t.decidedBy} <> ${t.requestedBy} AND ${t.decidedBy} <> ${t.userId})`,
    ),
    check(
      "payment_refunds_origin",
      sql`${t.origin} = 'admin' OR (${t.origin} = 'erasure' AND ${t.idempotencyKey} = 'erasure:' || ${t.paymentId}::text
          AND ${t.requestedBy} = ${t.userId} AND ${t.decidedBy} IS NULL AND ${t.status} <> 'pending')`,
    ),
    check(
      "payment_refunds_succeeded_has_provider_id",
      sql`${t.status} <> 'succeeded' OR ${t.providerRefundId} IS NOT NULL`,
    ),
  ],
);

// The provider refunds that failed (or were canceled) after we counted them (0027): one row per
// provider refund, so its failure is applied once, however often and in whatever order Stripe
// reports it. The credits given back are the payment's refund_reversal rows in the ledger.
export const providerRefundFailures = pgTable(
  "provider_refund_failures",
  {
    providerRefundId: text("provider_refund_id").primaryKey(),
    paymentId: uuid("payment_id")
      .notNull()
      .references(() => payments.id),
    amountMinor: bigint("amount_minor", { mode: "number" }).notNull(),
    status: text("status").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index("provider_refund_failures_payment_idx").on(t.paymentId),
    check("provider_refund_failures_amount_positive", sql`${t.amountMinor} > 0`),
    check("provider_refund_failures_status_undone", sql`${t.status} IN ('failed', 'canceled')`),
  ],
);

// Payments whose credits expired after a refund or dispute took credits back, to settle again
// (0050, ADR 009): written only by the credit_grants_payment_expiry trigger, removed by the settle
// (the grant sweep). No foreign key: see the migration.
export const paymentExpirySettles = pgTable("payment_expiry_settles", {
  paymentId: uuid("payment_id").primaryKey(),
  id: uuid("id").notNull().defaultRandom(),
  notedAt: tsz("noted_at").notNull().defaultNow(),
});
