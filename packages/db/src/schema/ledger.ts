// The ledger, holds, and the admin actions and approvals that post to it.
import {
  type AuditAction,
  adjustmentStatuses,
  grantCategories,
  grantSources,
  holdStatuses,
  ledgerKinds,
} from "@credits/core";
import { sql } from "drizzle-orm";
import { bigint, check, index, jsonb, pgEnum, pgTable, smallint, text, uuid } from "drizzle-orm/pg-core";
import { apiKeys, users } from "./accounts.ts";
import { createdAt, credits, MAX_OP, tsz } from "./columns.ts";
import { payments } from "./payments.ts";

export const holdStatus = pgEnum("hold_status", holdStatuses);
// Credit grants' enums (the table is in grants.ts; adjustment requests keep grant terms too).
export const grantCategory = pgEnum("grant_category", grantCategories);
export const grantSource = pgEnum("grant_source", grantSources);

export const holds = pgTable(
  "holds",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id),
    amount: credits("amount").notNull(),
    capturedAmount: credits("captured_amount"),
    // Taken by a refund or dispute clawback while open: neither capturable nor returned.
    clawedBack: credits("clawed_back").notNull().default(0),
    status: holdStatus("status").notNull().default("open"),
    // The client's key: a retried hold request finds this row instead of reserving twice.
    idempotencyKey: text("idempotency_key").notNull().unique(),
    expiresAt: tsz("expires_at").notNull(),
    createdAt: createdAt(),
    settledAt: tsz("settled_at"),
  },
  (t) => [
    index("holds_user_idx").on(t.userId, t.createdAt),
    index("holds_open_expiry_idx").on(t.expiresAt).where(sql`${t.status} = 'open'`),
    check("holds_amount_positive", sql`${t.amount} > 0 AND ${t.amount} <= ${sql.raw(String(MAX_OP))}`),
    check(
      "holds_capture_bounded",
      sql`${t.capturedAmount} IS NULL OR (${t.capturedAmount} >= 0 AND ${t.capturedAmount} <= ${t.amount})`,
    ),
    check("holds_settled_consistent", sql`(${t.status} = 'open') = (${t.settledAt} IS NULL)`),
    check(
      "holds_clawback_bounded",
      sql`${t.clawedBack} >= 0 AND coalesce(${t.capturedAmount}, 0) + ${t.clawedBack} <= ${t.amount}`,
    ),
  ],
);

export const adminActions = pgTable(
  "admin_actions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    // NULL for actions taken by the system or the CLI.
    actorId: uuid("actor_id").references(() => users.id),
    targetUserId: uuid("target_user_id").references(() => users.id),
    // One of core's auditActions: every write is checked against the list (review11).
    action: text("action").$type<AuditAction>().notNull(),
    amount: credits("amount"),
    reason: text("reason"),
    requestId: text("request_id"),
    balanceBefore: credits("balance_before"),
    balanceAfter: credits("balance_after"),
    adjustmentRequestId: uuid("adjustment_request_id"),
    // The API key an action was taken through (its owner is the actor), or the key acted upon.
    apiKeyId: uuid("api_key_id").references(() => apiKeys.id),
    // Structured facts of the action (a key's name, scopes and prefix; how a user was created).
    detail: jsonb("detail"),
    createdAt: createdAt(),
  },
  (t) => [
    index("admin_actions_api_key_idx").on(t.apiKeyId, t.createdAt),
    index("admin_actions_actor_idx").on(t.actorId, t.createdAt),
    index("admin_actions_target_idx").on(t.targetUserId, t.createdAt),
    index("admin_actions_created_idx").on(t.createdAt),
  ],
);

export const adjustmentStatus = pgEnum("adjustment_status", adjustmentStatuses);

// Adjustments above the approval threshold wait here for a second admin.
export const adjustmentRequests = pgTable(
  "adjustment_requests",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    requestedBy: uuid("requested_by")
      .notNull()
      .references(() => users.id),
    targetUserId: uuid("target_user_id")
      .notNull()
      .references(() => users.id),
    amount: credits("amount").notNull(),
    reason: text("reason").notNull(),
    idempotencyKey: text("idempotency_key").notNull().unique(),
    status: adjustmentStatus("status").notNull().default("pending"),
    decidedBy: uuid("decided_by").references(() => users.id),
    decidedAt: tsz("decided_at"),
    expiresAt: tsz("expires_at").notNull(),
    // The terms of the grant a positive adjustment creates, kept while it waits for approval.
    grantCategory: grantCategory("grant_category"),
    grantPriority: smallint("grant_priority"),
    grantExpiresAt: tsz("grant_expires_at"),
    createdAt: createdAt(),
  },
  (t) => [
    check("adjustment_grant_priority_range", sql`${t.grantPriority} IS NULL OR ${t.grantPriority} BETWEEN 0 AND 100`),
    index("adjustment_requests_pending_idx").on(t.createdAt).where(sql`${t.status} = 'pending'`),
    check("adjustment_amount_nonzero", sql`${t.amount} <> 0`),
    check("adjustment_reason_present", sql`length(trim(${t.reason})) > 0`),
    check("adjustment_not_self_decided", sql`${t.decidedBy} IS NULL OR ${t.decidedBy} <> ${t.requestedBy}`),
    // NOT VALID in its migration: checked for every decision made since.
    check("adjustment_not_decided_by_beneficiary", sql`${t.decidedBy} IS NULL OR ${t.decidedBy} <> ${t.targetUserId}`),
  ],
);

export const creditTransactionKind = pgEnum("credit_transaction_kind", ledgerKinds);

// The append-only ledger. A trigger (see the migrations) refuses UPDATE, DELETE and TRUNCATE.
export const creditTransactions = pgTable(
  "credit_transactions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    // Posting order. A user's postings are serialized by the lock on their balance row, so per
    // user this is also commit order: the order of the balance_after chain. Timestamps can tie.
    seq: bigint("seq", { mode: "number" }).generatedAlwaysAsIdentity(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id),
    amount: credits("amount").notNull(),
    balanceAfter: credits("balance_after").notNull(),
    kind: creditTransactionKind("kind").notNull(),
    // Unique across the ledger: one row per request however often it is retried. Client keys and
    // the keys the system derives (one purchase per payment, one settlement per hold) live in
    // separate namespaces (core/ledger-keys.ts), so a client cannot take a system key.
    idempotencyKey: text("idempotency_key").notNull().unique(),
    reason: text("reason"),
    paymentId: uuid("payment_id").references(() => payments.id),
    holdId: uuid("hold_id").references(() => holds.id),
    adminActionId: uuid("admin_action_id").references(() => adminActions.id),
    createdAt: createdAt(),
  },
  (t) => [
    // Also INCLUDE (balance_after) since migration 0041 (drizzle cannot declare it): the daily
    // reconciliation's anchor lookups are index-only scans (ADR 024).
    index("credit_transactions_user_seq_idx").on(t.userId, t.seq),
    index("credit_transactions_payment_idx").on(t.paymentId),
    index("credit_transactions_created_idx").on(t.createdAt),
    index("credit_transactions_seq_idx").on(t.seq),
    check("ledger_amount_nonzero", sql`${t.amount} <> 0`),
    check("ledger_amount_bounded", sql`${t.amount} BETWEEN ${sql.raw(String(-MAX_OP))} AND ${sql.raw(String(MAX_OP))}`),
  ],
);
