// Auto top-up (drizzle/0019_auto_topup.sql, 0025 for the currency, 0028 for the card's removal,
// 0030 and 0034 for the attempt's offer, 0035 for the cards to detach): a user's settings and one
// attempt per crossing. The ledger trigger credit_transactions_auto_topup writes the attempts.
import { autoTopUpAttemptReasons, autoTopUpAttemptStatuses } from "@credits/core";
import { sql } from "drizzle-orm";
import { bigint, boolean, check, index, integer, pgTable, text, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { users } from "./accounts.ts";
import { createdAt, credits, tsz } from "./columns.ts";
import { creditPackages, payments } from "./payments.ts";

export const autoTopUpSettings = pgTable(
  "auto_topup_settings",
  {
    userId: uuid("user_id")
      .primaryKey()
      .references(() => users.id),
    enabled: boolean("enabled").notNull().default(false),
    threshold: credits("threshold").notNull(),
    packageId: uuid("package_id")
      .notNull()
      .references(() => creditPackages.id),
    // The currency the pack is bought in (one of its prices; migration 0025).
    currency: text("currency").notNull(),
    paymentMethodId: text("payment_method_id"),
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    disabledReason: text("disabled_reason"),
    // When the saved card was last removed (migration 0028).
    cardRemovedAt: tsz("card_removed_at"),
    updatedAt: tsz("updated_at").notNull().defaultNow(),
  },
  (t) => [
    check("auto_topup_settings_threshold_check", sql`${t.threshold} BETWEEN 1 AND 1000000000`),
    check("auto_topup_settings_currency_iso", sql`${t.currency} ~ '^[a-z]{3}$'`),
  ],
);

export const autoTopUpAttempts = pgTable(
  "auto_topup_attempts",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id),
    packageId: uuid("package_id")
      .notNull()
      .references(() => creditPackages.id),
    crossingTransactionId: uuid("crossing_transaction_id").notNull().unique(),
    // The user's currency at the crossing, and the pack's credits and price in it (migration
    // 0030): what is charged. Credits and amount NULL: no price then (archived, or not sold in it).
    credits: credits("credits"),
    amountMinor: bigint("amount_minor", { mode: "number" }),
    currency: text("currency"),
    // The pack's credit expiry at the crossing (migration 0034): what the payment grants. NULL:
    // the credits never expire.
    creditExpiryDays: integer("credit_expiry_days"),
    status: text("status", { enum: autoTopUpAttemptStatuses }).notNull().default("pending"),
    reason: text("reason", { enum: autoTopUpAttemptReasons }),
    paymentId: uuid("payment_id")
      .unique()
      .references(() => payments.id),
    paymentMethodId: text("payment_method_id"),
    tries: integer("tries").notNull().default(0),
    lockedUntil: tsz("locked_until"),
    createdAt: createdAt(),
    updatedAt: tsz("updated_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("auto_topup_attempts_one_in_flight").on(t.userId).where(sql`${t.status} IN ('pending', 'processing')`),
    index("auto_topup_attempts_user_idx").on(t.userId, t.createdAt.desc()),
    index("auto_topup_attempts_due_idx").on(t.createdAt).where(sql`${t.status} IN ('pending', 'processing')`),
    check(
      "auto_topup_attempts_offer_whole",
      sql`(${t.credits} IS NULL) = (${t.amountMinor} IS NULL) AND (${t.amountMinor} IS NULL OR ${t.currency} IS NOT NULL)`,
    ),
    check("auto_topup_attempts_offer_positive", sql`${t.credits} > 0 AND ${t.amountMinor} > 0`),
    check("auto_topup_attempts_currency_iso", sql`${t.currency} ~ '^[a-z]{3}$'`),
    check(
      "auto_topup_attempts_credit_expiry_positive",
      sql`${t.creditExpiryDays} IS NULL OR ${t.creditExpiryDays} > 0`,
    ),
  ],
);

// Cards a dispute forgot, still to detach at the provider (migration 0035): one row per card, so
// a second dispute never hides the first one's card; deleted once detached.
export const autoTopUpCardsToDetach = pgTable(
  "auto_topup_cards_to_detach",
  {
    paymentMethodId: text("payment_method_id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id),
    // Failed detaches so far; the last one's time puts it after the cards not tried yet.
    tries: integer("tries").notNull().default(0),
    lastTriedAt: tsz("last_tried_at"),
    createdAt: createdAt(),
  },
  (t) => [index("auto_topup_cards_to_detach_due_idx").on(t.lastTriedAt.asc().nullsFirst(), t.createdAt)],
);
