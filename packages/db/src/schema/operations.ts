// Reconciliation runs and what they found.
import { boolean, index, jsonb, pgTable, text, uuid } from "drizzle-orm/pg-core";
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
