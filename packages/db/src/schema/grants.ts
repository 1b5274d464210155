// Credit grants and the ledger's allocations to them (drizzle/0007_credit_grants.sql, ADR 009).
// Written only by the posting functions of that migration; read by the stores.
import { sql } from "drizzle-orm";
import { bigint, check, index, pgTable, primaryKey, smallint, uuid } from "drizzle-orm/pg-core";
import { users } from "./accounts.ts";
import { createdAt, credits, tsz } from "./columns.ts";
import { adminActions, creditTransactions, grantCategory, grantSource } from "./ledger.ts";
import { payments } from "./payments.ts";

export const creditGrants = pgTable(
  "credit_grants",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id),
    category: grantCategory("category").notNull(),
    priority: smallint("priority").notNull(),
    amount: credits("amount").notNull(),
    remaining: credits("remaining").notNull(),
    expiresAt: tsz("expires_at"),
    source: grantSource("source").notNull(),
    paymentId: uuid("payment_id").references(() => payments.id),
    adminActionId: uuid("admin_action_id").references(() => adminActions.id),
    // The ledger row that created it; NULL for a balance migrated into a grant.
    entryId: uuid("entry_id")
      .unique("credit_grants_entry_unique")
      .references(() => creditTransactions.id),
    // That row's seq: "oldest first" on a created_at tie (0008_grant_fixes.sql).
    entrySeq: bigint("entry_seq", { mode: "number" }),
    createdAt: createdAt(),
    expiredAt: tsz("expired_at"),
  },
  (t) => [
    index("credit_grants_live_idx")
      .on(t.userId, t.priority, t.expiresAt, t.createdAt, t.entrySeq, t.id)
      .where(sql`${t.remaining} > 0`),
    index("credit_grants_due_idx").on(t.expiresAt).where(sql`${t.remaining} > 0 AND ${t.expiresAt} IS NOT NULL`),
    index("credit_grants_user_idx").on(t.userId, t.createdAt),
    check("credit_grants_priority_range", sql`${t.priority} BETWEEN 0 AND 100`),
    check("credit_grants_amount_positive", sql`${t.amount} > 0`),
    check("credit_grants_remaining_bounded", sql`${t.remaining} >= 0 AND ${t.remaining} <= ${t.amount}`),
  ],
);

// Append-only, like the ledger (a trigger refuses UPDATE, DELETE and TRUNCATE).
export const ledgerAllocations = pgTable(
  "ledger_allocations",
  {
    entryId: uuid("entry_id")
      .notNull()
      .references(() => creditTransactions.id),
    grantId: uuid("grant_id")
      .notNull()
      .references(() => creditGrants.id),
    amount: bigint("amount", { mode: "number" }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.entryId, t.grantId] }),
    index("ledger_allocations_grant_idx").on(t.grantId),
    check("ledger_allocations_nonzero", sql`${t.amount} <> 0`),
  ],
);

// credits.expiring: one notice per grant (drizzle/0024_i16topup_grant_expiry_notices.sql).
export const grantExpiryNotices = pgTable(
  "grant_expiry_notices",
  {
    grantId: uuid("grant_id")
      .primaryKey()
      .references(() => creditGrants.id),
    amount: credits("amount").notNull(),
    expiresAt: tsz("expires_at").notNull(),
    createdAt: createdAt(),
  },
  (t) => [check("grant_expiry_notices_amount_check", sql`${t.amount} > 0`)],
);
