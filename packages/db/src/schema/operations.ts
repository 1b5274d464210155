// Reconciliation runs and what they found.
import { sql } from "drizzle-orm";
import { bigint, boolean, index, jsonb, pgTable, primaryKey, text, uuid } from "drizzle-orm/pg-core";
import { users } from "./accounts.ts";
import { createdAt, tsz } from "./columns.ts";
import { payments } from "./payments.ts";

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

// The users the ledger step last found in violation, stored finding or not (0036, ADR 012): the
// daily pass re-checks each from their first row until a pass finds them clean.
export const ledgerFlaggedUsers = pgTable("ledger_flagged_users", {
  userId: uuid("user_id")
    .primaryKey()
    .references(() => users.id),
  flaggedAt: tsz("flagged_at").notNull().defaultNow(),
  // When a run last stored a finding about them: the least recently reported are listed first.
  reportedAt: tsz("reported_at"),
});

// A balance_after chain break an admin acknowledged (0037): the checks accept exactly this jump
// (delta) at exactly this row, and nothing else of the user.
export const ledgerBreakAcknowledgements = pgTable(
  "ledger_break_acknowledgements",
  {
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id),
    seq: bigint("seq", { mode: "number" }).notNull(),
    delta: bigint("delta", { mode: "number" }).notNull(),
    actorId: uuid("actor_id")
      .notNull()
      .references(() => users.id),
    reason: text("reason").notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.seq] })],
);

// A break above what one admin may accept, acknowledged by one admin and waiting for a second
// (0043); accepted once another admin acknowledges it too (a ledgerBreakAcknowledgements row).
export const ledgerBreakRequests = pgTable(
  "ledger_break_requests",
  {
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id),
    seq: bigint("seq", { mode: "number" }).notNull(),
    delta: bigint("delta", { mode: "number" }).notNull(),
    requestedBy: uuid("requested_by")
      .notNull()
      .references(() => users.id),
    reason: text("reason").notNull(),
    createdAt: createdAt(),
    // When a second admin accepted it (a ledgerBreakAcknowledgements row); null while it waits.
    acceptedAt: tsz("accepted_at"),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.seq] }),
    index("ledger_break_requests_pending_idx")
      .on(t.createdAt.desc(), t.userId, t.seq)
      .where(sql`${t.acceptedAt} IS NULL`),
  ],
);
