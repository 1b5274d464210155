// Alerts and mail (migration 0010): the instance's default threshold and the mail queue. The
// ledger trigger credit_transactions_announce writes receipts and low-balance mails here.
import { sql } from "drizzle-orm";
import { check, index, integer, jsonb, pgTable, smallint, text, uuid } from "drizzle-orm/pg-core";
import { users } from "./accounts.ts";
import { createdAt, credits, tsz } from "./columns.ts";

export const alertDefaults = pgTable(
  "alert_defaults",
  {
    id: smallint("id").primaryKey().default(1),
    lowBalanceThreshold: credits("low_balance_threshold").notNull().default(0),
  },
  (t) => [
    check("alert_defaults_one_row", sql`${t.id} = 1`),
    check("alert_defaults_threshold_range", sql`${t.lowBalanceThreshold} BETWEEN 0 AND 1000000000`),
  ],
);

// Users whose low-balance alert fired and was not re-armed since (migration 0022, ADR 020): written
// only by the ledger trigger.
export const lowBalanceAlerted = pgTable("low_balance_alerted", {
  userId: uuid("user_id")
    .primaryKey()
    .references(() => users.id),
  transactionId: uuid("transaction_id").notNull(),
  createdAt: createdAt(),
});

// Users whose credits.depleted fired and was not re-armed since (migration 0026): written only by
// the ledger trigger, re-armed by a credit (not a hold's release) that leaves the balance above zero.
export const creditsDepletedAlerted = pgTable("credits_depleted_alerted", {
  userId: uuid("user_id")
    .primaryKey()
    .references(() => users.id),
  transactionId: uuid("transaction_id").notNull(),
  createdAt: createdAt(),
});

export const mails = pgTable(
  "mails",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    cause: text("cause").notNull().unique("mails_cause_unique"),
    template: text("template").notNull(),
    userId: uuid("user_id").references(() => users.id),
    toAddress: text("to_address"),
    data: jsonb("data").notNull().default({}),
    status: text("status").notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: tsz("next_attempt_at").notNull().defaultNow(),
    sentAt: tsz("sent_at"),
    rendered: jsonb("rendered"),
    createdAt: createdAt(),
  },
  (t) => [
    index("mails_due_idx").on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    index("mails_user_idx").on(t.userId),
    index("mails_created_idx").on(t.createdAt),
    check("mails_status_known", sql`${t.status} IN ('pending', 'sent', 'failed', 'dropped')`),
    check("mails_has_recipient", sql`${t.userId} IS NOT NULL OR ${t.toAddress} IS NOT NULL`),
  ],
);
