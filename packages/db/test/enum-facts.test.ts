import {
  adjustmentStatuses,
  disputeStatuses,
  grantCategories,
  grantSources,
  holdStatuses,
  ledgerKinds,
  paymentStatuses,
  processedEventStatuses,
  refundStatuses,
  userRoles,
} from "@credits/core";
import { sql } from "drizzle-orm";
import { isPgEnum } from "drizzle-orm/pg-core";
import { describe, expect, it } from "vitest";
import { rowsOf } from "../src/client.ts";
import * as schema from "../src/schema.ts";
import { testDb } from "./setup.ts";

// Every enum the database has is one of core's lists: the schema builds its pgEnums from them, and
// the migrations must have made the same values. A value added to a core list without a migration
// (or a migration without the list) fails here, not at the first insert in production.

const coreLists: Record<string, readonly string[]> = {
  user_role: userRoles,
  payment_status: paymentStatuses,
  dispute_status: disputeStatuses,
  processed_event_status: processedEventStatuses,
  hold_status: holdStatuses,
  adjustment_status: adjustmentStatuses,
  credit_transaction_kind: ledgerKinds,
  grant_category: grantCategories,
  grant_source: grantSources,
  refund_status: refundStatuses,
};

async function migratedEnums(): Promise<Record<string, string[]>> {
  const rows = rowsOf<{ name: string; label: string }>(
    await testDb.db.execute(sql`
      SELECT t.typname AS name, e.enumlabel AS label
        FROM pg_type t
        JOIN pg_namespace n ON n.oid = t.typnamespace
        JOIN pg_enum e ON e.enumtypid = t.oid
       WHERE n.nspname = 'public'
       ORDER BY t.typname, e.enumsortorder`),
  );
  const enums: Record<string, string[]> = {};
  for (const { name, label } of rows) enums[name] = [...(enums[name] ?? []), label];
  return enums;
}

const sorted = (values: readonly string[]) => [...values].sort();

describe("enums are core's lists", () => {
  it("the schema's pgEnums are exactly core's lists", () => {
    const schemaEnums = Object.fromEntries(
      Object.values(schema).flatMap((value) => (isPgEnum(value) ? [[value.enumName, value.enumValues]] : [])),
    );
    expect(schemaEnums).toEqual(coreLists);
  });

  it("the migrated database holds the same values for each of them, and no other enum", async () => {
    const migrated = await migratedEnums();
    expect(Object.keys(migrated).sort()).toEqual(Object.keys(coreLists).sort());
    for (const [name, values] of Object.entries(coreLists)) {
      expect(sorted(migrated[name] ?? []), name).toEqual(sorted(values));
    }
  });
});
