// Daily totals the stats read (migration 0011, ADR 012): written only by the ledger's and the
// payments' triggers, one row per UTC day and posting backend (`stripe`), summed on read.
import { sql } from "drizzle-orm";
import { bigint, date, integer, pgTable, primaryKey, text } from "drizzle-orm/pg-core";

const total = (name: string) => bigint(name, { mode: "number" }).notNull().default(sql`0`);

export const ledgerDailyTotals = pgTable(
  "ledger_daily_totals",
  {
    day: date("day").notNull(),
    stripe: integer("stripe").notNull(),
    purchased: total("purchased"),
    spent: total("spent"),
    adjusted: total("adjusted"),
    clawedBack: total("clawed_back"),
  },
  (t) => [primaryKey({ columns: [t.day, t.stripe] })],
);

export const revenueDailyTotals = pgTable(
  "revenue_daily_totals",
  {
    day: date("day").notNull(),
    currency: text("currency").notNull(),
    stripe: integer("stripe").notNull(),
    netMinor: total("net_minor"),
  },
  (t) => [primaryKey({ columns: [t.day, t.currency, t.stripe] })],
);
