// The whole product's tables. Later work adds migrations, not reshapes: every table the design
// names is here from the start. Credits are bigint (mode number: < 2^53 by the CHECKs below),
// money is integer minor units with an ISO 4217 currency.
import {
  adjustmentStatuses,
  disputeStatuses,
  holdStatuses,
  ledgerKinds,
  MAX_CREDITS_PER_OPERATION,
  paymentStatuses,
  userRoles,
} from "@credits/core";
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  date,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from "drizzle-orm/pg-core";

const credits = (name: string) => bigint(name, { mode: "number" });
// Millisecond precision, so a timestamp survives a round trip through a JS Date exactly (keyset
// cursors compare them).
const tsz = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });
const createdAt = () => tsz("created_at").notNull().defaultNow();

// Bounds shared by code (core/limits.ts) and constraints: no single operation moves more than
// this many credits, which keeps every sum far below 2^53.
const MAX_OP = MAX_CREDITS_PER_OPERATION;

export const userRole = pgEnum("user_role", userRoles);

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    // Stored lower-cased; NULL once the user is erased (GDPR), so uniqueness holds for the living.
    email: text("email").unique(),
    name: text("name"),
    passwordHash: text("password_hash"),
    role: userRole("role").notNull().default("user"),
    creditsBalance: credits("credits_balance").notNull().default(0),
    stripeCustomerId: text("stripe_customer_id").unique(),
    // Set by a dispute clawback: the one documented case where the balance may go below zero.
    disputedAt: tsz("disputed_at"),
    erasedAt: tsz("erased_at"),
    createdAt: createdAt(),
  },
  (t) => [
    check("users_balance_non_negative", sql`${t.creditsBalance} >= 0 OR ${t.disputedAt} IS NOT NULL`),
    check("users_email_lowercase", sql`${t.email} = lower(${t.email})`),
  ],
);

export const sessions = pgTable(
  "sessions",
  {
    // SHA-256 (hex) of the session token: the token itself is never stored.
    id: text("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    expiresAt: tsz("expires_at").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("sessions_user_idx").on(t.userId)],
);

export const apiKeys = pgTable(
  "api_keys",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    // First characters of the key, shown in lists so people can tell keys apart.
    prefix: text("prefix").notNull(),
    keyHash: text("key_hash").notNull().unique(),
    scopes: text("scopes").array().notNull(),
    ownerUserId: uuid("owner_user_id").references(() => users.id),
    createdAt: createdAt(),
    lastUsedAt: tsz("last_used_at"),
    revokedAt: tsz("revoked_at"),
    // Optional limits per UTC day (NULL: none), counted in api_key_usage.
    grantCreditsPerDay: credits("grant_credits_per_day"),
    grantCallsPerDay: integer("grant_calls_per_day"),
    spendCreditsPerDay: credits("spend_credits_per_day"),
    spendCallsPerDay: integer("spend_calls_per_day"),
  },
  (t) => [
    index("api_keys_owner_idx").on(t.ownerUserId),
    check(
      "api_keys_limits_positive",
      sql`coalesce(${t.grantCreditsPerDay}, 1) > 0 AND coalesce(${t.grantCallsPerDay}, 1) > 0 AND coalesce(${t.spendCreditsPerDay}, 1) > 0 AND coalesce(${t.spendCallsPerDay}, 1) > 0`,
    ),
  ],
);

// What each API key moved per UTC day and operation, for its limits: one row per (key, day,
// operation), changed by one conditional upsert so instances cannot overshoot together.
export const apiKeyUsage = pgTable(
  "api_key_usage",
  {
    apiKeyId: uuid("api_key_id")
      .notNull()
      .references(() => apiKeys.id),
    day: date("day", { mode: "string" }).notNull(),
    operation: text("operation").notNull(),
    credits: credits("credits").notNull().default(0),
    calls: integer("calls").notNull().default(0),
  },
  (t) => [
    primaryKey({ name: "api_key_usage_pk", columns: [t.apiKeyId, t.day, t.operation] }),
    check("api_key_usage_operation", sql`${t.operation} IN ('grant', 'spend')`),
    check("api_key_usage_non_negative", sql`${t.credits} >= 0 AND ${t.calls} >= 0`),
  ],
);

export const creditPackages = pgTable(
  "credit_packages",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    slug: text("slug").notNull().unique(),
    name: text("name").notNull(),
    credits: credits("credits").notNull(),
    priceMinor: bigint("price_minor", { mode: "number" }).notNull(),
    currency: text("currency").notNull(),
    active: boolean("active").notNull().default(true),
    createdAt: createdAt(),
  },
  (t) => [
    check("packages_credits_positive", sql`${t.credits} > 0 AND ${t.credits} <= ${sql.raw(String(MAX_OP))}`),
    check("packages_price_positive", sql`${t.priceMinor} > 0`),
    check("packages_currency_iso", sql`${t.currency} ~ '^[a-z]{3}$'`),
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
    status: paymentStatus("status").notNull().default("created"),
    provider: text("provider").notNull(),
    providerSessionId: text("provider_session_id").unique(),
    providerPaymentIntentId: text("provider_payment_intent_id").unique(),
    providerChargeId: text("provider_charge_id").unique(),
    // Facts reported by the provider; each only moves forward. The status is derived from them,
    // so events applied in any order end in the same state.
    amountRefundedMinor: bigint("amount_refunded_minor", { mode: "number" }).notNull().default(0),
    disputeStatus: disputeStatus("dispute_status"),
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
      sql`${t.amountRefundedMinor} >= 0 AND ${t.amountRefundedMinor} <= ${t.amountMinor}`,
    ),
    check(
      "payments_clawback_bounded",
      sql`${t.creditsRefunded} >= 0 AND ${t.creditsDisputed} >= 0 AND ${t.creditsRefunded} + ${t.creditsDisputed} <= ${t.credits}`,
    ),
    check("payments_currency_iso", sql`${t.currency} ~ '^[a-z]{3}$'`),
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

export const holdStatus = pgEnum("hold_status", holdStatuses);

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
    action: text("action").notNull(),
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
    createdAt: createdAt(),
  },
  (t) => [
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
    index("credit_transactions_user_seq_idx").on(t.userId, t.seq),
    index("credit_transactions_payment_idx").on(t.paymentId),
    index("credit_transactions_created_idx").on(t.createdAt),
    check("ledger_amount_nonzero", sql`${t.amount} <> 0`),
    check("ledger_amount_bounded", sql`${t.amount} BETWEEN ${sql.raw(String(-MAX_OP))} AND ${sql.raw(String(MAX_OP))}`),
  ],
);

export const processedEventStatus = pgEnum("processed_event_status", ["processed", "ignored"]);

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

export const reconciliationRuns = pgTable("reconciliation_runs", {
  id: uuid("id").primaryKey().defaultRandom(),
  trigger: text("trigger").notNull(),
  // Set for scheduled runs: unique, so several server instances start the day's run once.
  scheduledFor: text("scheduled_for").unique(),
  windowStart: tsz("window_start").notNull(),
  windowEnd: tsz("window_end").notNull(),
  status: text("status").notNull().default("running"),
  stats: jsonb("stats"),
  startedAt: createdAt(),
  finishedAt: tsz("finished_at"),
});

export const reconciliationFindings = pgTable(
  "reconciliation_findings",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    runId: uuid("run_id")
      .notNull()
      .references(() => reconciliationRuns.id),
    kind: text("kind").notNull(),
    paymentId: uuid("payment_id").references(() => payments.id),
    userId: uuid("user_id").references(() => users.id),
    providerRef: text("provider_ref"),
    detail: jsonb("detail"),
    healed: boolean("healed").notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [index("reconciliation_findings_run_idx").on(t.runId)],
);

// Fixed-window counters for rate limits (log-in, sign-up), shared by every server instance. The
// key is an HMAC of what is limited (an email, an address), never the value itself; rows past
// expires_at are purged.
export const rateLimits = pgTable(
  "rate_limits",
  {
    key: text("key").primaryKey(),
    windowStart: tsz("window_start").notNull(),
    count: integer("count").notNull(),
    expiresAt: tsz("expires_at").notNull(),
  },
  (t) => [index("rate_limits_expires_at_idx").on(t.expiresAt)],
);

// The HMAC key of rate_limits.key: one row, made by its migration, shared by every instance.
export const rateLimitSecret = pgTable(
  "rate_limit_secret",
  {
    id: boolean("id").primaryKey().default(true),
    secret: text("secret").notNull().default(sql`replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')`),
    createdAt: createdAt(),
  },
  (t) => [check("rate_limit_secret_single_row", sql`${t.id}`)],
);
