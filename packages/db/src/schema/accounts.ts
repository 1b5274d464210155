// People, their sessions and API keys, and the rate limits of logging in.
import { erasureTaskKinds, userRoles } from "@credits/core";
import { sql } from "drizzle-orm";
import { boolean, check, date, index, integer, pgEnum, pgTable, primaryKey, text, uuid } from "drizzle-orm/pg-core";
import { createdAt, credits, tsz } from "./columns.ts";

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
    // Low-balance alerts (migration 0010): off, or on at this threshold (NULL: the instance default).
    lowBalanceAlerts: boolean("low_balance_alerts").notNull().default(true),
    lowBalanceThreshold: credits("low_balance_threshold"),
  },
  (t) => [
    check(
      "users_low_balance_threshold_range",
      sql`${t.lowBalanceThreshold} IS NULL OR ${t.lowBalanceThreshold} BETWEEN 0 AND 1000000000`,
    ),
    check("users_balance_non_negative", sql`${t.creditsBalance} >= 0 OR ${t.disputedAt} IS NOT NULL`),
    check("users_email_lowercase", sql`${t.email} = lower(${t.email})`),
  ],
);

// The erasure's work at the provider (migration 0039, one queue by kind since 0042): an erased
// user's customer to delete, their open Checkout session to expire, a refund of a payment completed
// after the erasure to send. Queued in the transaction that decided it; a worker does each at the
// provider, then deletes its row. A failed one stays, counted, for a later pass.
export const providerErasureTasks = pgTable(
  "provider_erasure_tasks",
  {
    kind: text("kind", { enum: erasureTaskKinds }).notNull(),
    // The customer's, the session's or our refund row's id.
    targetId: text("target_id").notNull(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id),
    tries: integer("tries").notNull().default(0),
    lastTriedAt: tsz("last_tried_at"),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.kind, t.targetId] }),
    index("provider_erasure_tasks_due_idx").on(t.lastTriedAt.asc().nullsFirst(), t.createdAt),
    check("provider_erasure_tasks_kind", sql`${t.kind} IN ('delete_customer', 'expire_session', 'send_refund')`),
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
