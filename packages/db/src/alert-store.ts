import type { AlertStore } from "@credits/core";
import { eq } from "drizzle-orm";
import type { Database } from "./client.ts";
import { translatingErrors } from "./errors.ts";
import { alertDefaults, users } from "./schema.ts";

// Thresholds of the low-balance alerts; the ledger trigger (migration 0010) reads the same columns.
export function createAlertStore(db: Database): AlertStore {
  return translatingErrors({
    lowBalance: async (userId) => {
      const [row] = await db
        .select({
          enabled: users.lowBalanceAlerts,
          threshold: users.lowBalanceThreshold,
          defaultThreshold: alertDefaults.lowBalanceThreshold,
        })
        .from(users)
        .innerJoin(alertDefaults, eq(alertDefaults.id, 1))
        .where(eq(users.id, userId));
      return row ?? null;
    },

    setLowBalance: async (userId, threshold) => {
      const updated = await db
        .update(users)
        .set(
          threshold === null
            ? { lowBalanceAlerts: false, lowBalanceThreshold: null }
            : { lowBalanceAlerts: true, lowBalanceThreshold: threshold },
        )
        .where(eq(users.id, userId))
        .returning({ id: users.id });
      return updated.length > 0;
    },

    setDefaultThreshold: async (threshold) => {
      await db
        .insert(alertDefaults)
        .values({ id: 1, lowBalanceThreshold: threshold })
        .onConflictDoUpdate({ target: alertDefaults.id, set: { lowBalanceThreshold: threshold } });
    },
  });
}
