import type { AutoTopUpAttempt, AutoTopUpStore } from "@credits/core";
import { and, count, desc, eq, gte, inArray, sql } from "drizzle-orm";
import { type Database, rowsOf } from "./client.ts";
import { translatingErrors } from "./errors.ts";
import {
  adminActions,
  autoTopUpAttempts,
  autoTopUpCardsToDetach,
  autoTopUpSettings,
  mails,
  payments,
} from "./schema.ts";

const PAYMENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Auto top-up settings and attempts (migration 0019). The attempts are written by the ledger
// trigger; here they are claimed (SKIP LOCKED and a lease) and moved along.
export function createAutoTopUpStore(db: Database): AutoTopUpStore {
  return translatingErrors({ ...settingsMethods(db), ...cardMethods(db), ...attemptMethods(db) });
}

const attemptOf = (row: typeof autoTopUpAttempts.$inferSelect): AutoTopUpAttempt => row;

function attemptMethods(db: Database) {
  return {
    lastAttempt: async (userId) => {
      const [row] = await db
        .select()
        .from(autoTopUpAttempts)
        .where(eq(autoTopUpAttempts.userId, userId))
        .orderBy(desc(autoTopUpAttempts.createdAt))
        .limit(1);
      return row ? attemptOf(row) : null;
    },

    claimDue: async (limit, now, leaseUntil) => {
      const rows = rowsOf<{ id: string }>(
        await db.execute(sql`
          WITH due AS (
            SELECT id FROM auto_topup_attempts
             WHERE status IN ('pending', 'processing')
               AND (locked_until IS NULL OR locked_until <= ${now.toISOString()}::timestamptz)
             ORDER BY created_at LIMIT ${limit}
             FOR UPDATE SKIP LOCKED)
          UPDATE auto_topup_attempts a SET tries = a.tries + 1, locked_until = ${leaseUntil.toISOString()}::timestamptz
            FROM due WHERE a.id = due.id
          RETURNING a.id`),
      );
      if (rows.length === 0) return [];
      const claimed = await db
        .select()
        .from(autoTopUpAttempts)
        .where(
          inArray(
            autoTopUpAttempts.id,
            rows.map((row) => row.id),
          ),
        )
        .orderBy(autoTopUpAttempts.createdAt);
      return claimed.map(attemptOf);
    },

    lockAttempt: async (id) => {
      if (!PAYMENT_ID.test(id)) return null;
      const [row] = await db.select().from(autoTopUpAttempts).where(eq(autoTopUpAttempts.id, id)).for("update");
      return row ? attemptOf(row) : null;
    },

    lockAttemptByPayment: async (paymentId) => {
      const [row] = await db
        .select()
        .from(autoTopUpAttempts)
        .where(eq(autoTopUpAttempts.paymentId, paymentId))
        .for("update");
      return row ? attemptOf(row) : null;
    },

    findAttemptByPayment: async (paymentId) => {
      const [row] = await db.select().from(autoTopUpAttempts).where(eq(autoTopUpAttempts.paymentId, paymentId));
      return row ? attemptOf(row) : null;
    },

    charged: async (userId, since, currency) => {
      // Each charged attempt has its payment, made from the attempt's price: the amount is the
      // payments' in this currency, the count every currency's. The window is the payment's time
      // (made under the caps' check, right before its charge is sent), not the crossing's: a
      // crossing of yesterday charged today is today's charge (payments_user_idx).
      const [row] = await db
        .select({
          count: count(),
          amountMinor: sql<string>`coalesce(sum(${payments.amountMinor}) FILTER (WHERE ${payments.currency} = ${currency}), 0)`,
        })
        .from(payments)
        .innerJoin(autoTopUpAttempts, eq(autoTopUpAttempts.paymentId, payments.id))
        .where(
          and(
            eq(payments.userId, userId),
            gte(payments.createdAt, since),
            // A failed attempt reached the provider too (declined, authentication required, or
            // no answer): a cap that skipped failures would let a declining card be tried forever.
            inArray(autoTopUpAttempts.status, ["processing", "succeeded", "failed"]),
          ),
        );
      return { count: row?.count ?? 0, amountMinor: Number(row?.amountMinor ?? 0) };
    },

    updateAttempt: async (id, patch) => {
      await db
        .update(autoTopUpAttempts)
        .set({ ...patch, updatedAt: sql`now()` })
        .where(eq(autoTopUpAttempts.id, id));
    },

    queueFailureMail: async (attemptId, userId, data) => {
      await db
        .insert(mails)
        .values({ cause: `auto_topup_failed:${attemptId}`, template: "auto_topup_failed", userId, data })
        .onConflictDoNothing({ target: mails.cause });
    },
  } satisfies Partial<AutoTopUpStore>;
}

function settingsMethods(db: Database) {
  return {
    settings: async (userId) => {
      const [row] = await db.select().from(autoTopUpSettings).where(eq(autoTopUpSettings.userId, userId));
      return row ?? null;
    },

    saveSettings: async (userId, { enabled, threshold, packageId, currency }) => {
      // Only turning it on from off starts the failures in a row again: a PUT while it is on (a new
      // threshold) must not, or a declining card could be retried without end.
      const wasOff = sql`NOT ${autoTopUpSettings.enabled}`;
      const turnedOn = enabled
        ? {
            consecutiveFailures: sql`CASE WHEN ${wasOff} THEN 0 ELSE ${autoTopUpSettings.consecutiveFailures} END`,
            disabledReason: sql`CASE WHEN ${wasOff} THEN NULL ELSE ${autoTopUpSettings.disabledReason} END`,
          }
        : {};
      await db
        .insert(autoTopUpSettings)
        .values({ userId, enabled, threshold, packageId, currency })
        .onConflictDoUpdate({
          target: autoTopUpSettings.userId,
          set: { enabled, threshold, packageId, currency, ...turnedOn, updatedAt: sql`now()` },
        });
    },

    lockSettings: async (userId) => {
      const [row] = await db.select().from(autoTopUpSettings).where(eq(autoTopUpSettings.userId, userId)).for("update");
      return row ?? null;
    },

    saveCard: async (userId, paymentMethodId) => {
      const updated = await db
        .update(autoTopUpSettings)
        .set({
          paymentMethodId,
          // A new card starts the failures in a row again (the declining one is gone).
          consecutiveFailures: sql`CASE WHEN ${autoTopUpSettings.paymentMethodId} IS DISTINCT FROM ${paymentMethodId}
            THEN 0 ELSE ${autoTopUpSettings.consecutiveFailures} END`,
          updatedAt: sql`now()`,
        })
        .where(eq(autoTopUpSettings.userId, userId))
        .returning({ userId: autoTopUpSettings.userId });
      return updated.length > 0;
    },

    removeCard: (userId, disabledReason) => forgetCard(db, userId, disabledReason),

    beginCardRemoval: async (userId) => {
      await db
        .update(autoTopUpSettings)
        .set({ enabled: false, cardRemovedAt: removalTime, updatedAt: sql`now()` })
        .where(eq(autoTopUpSettings.userId, userId));
    },

    turnOff: async (userId, disabledReason) => {
      await db
        .update(autoTopUpSettings)
        .set({ enabled: false, ...(disabledReason ? { disabledReason } : {}), updatedAt: sql`now()` })
        .where(eq(autoTopUpSettings.userId, userId));
    },

    audit: async (action) => {
      await db.insert(adminActions).values(action);
    },

    recordFailure: async (userId, disableAfter) => {
      const [row] = await db
        .update(autoTopUpSettings)
        .set({
          consecutiveFailures: sql`${autoTopUpSettings.consecutiveFailures} + 1`,
          enabled: sql`${autoTopUpSettings.enabled} AND ${autoTopUpSettings.consecutiveFailures} + 1 < ${disableAfter}`,
          disabledReason: sql`CASE WHEN ${autoTopUpSettings.consecutiveFailures} + 1 >= ${disableAfter}
            THEN ${`turned off after ${disableAfter} failed top-ups in a row`} ELSE ${autoTopUpSettings.disabledReason} END`,
          updatedAt: sql`now()`,
        })
        .where(eq(autoTopUpSettings.userId, userId))
        .returning({ consecutiveFailures: autoTopUpSettings.consecutiveFailures });
      const consecutiveFailures = row?.consecutiveFailures ?? 0;
      return { consecutiveFailures, disabled: consecutiveFailures === disableAfter };
    },

    resetFailures: async (userId) => {
      await db
        .update(autoTopUpSettings)
        .set({ consecutiveFailures: 0, updatedAt: sql`now()` })
        .where(eq(autoTopUpSettings.userId, userId));
    },
  } satisfies Partial<AutoTopUpStore>;
}

// When the card's removal happened, as compared with payments' created_at (the database's now()):
// the time of this statement, not now(), which is its transaction's start. Every caller holds the
// settings row lock, taken by an earlier statement of its transaction, so the stamp is later than
// every auto top-up payment made under that lock before it; and a dispute's transaction may run
// long, so now() would date the removal before a Checkout begun while it ran, whose card would then
// be saved after the dispute forgot the user's card (ADR 019, removal wins). What is left: a
// Checkout made between this statement and its transaction's commit (a dispute's: the event's
// inbox row), which clock_timestamp() would not close either (Checkouts take no settings lock).
const removalTime = sql`statement_timestamp()`;

// Forgets the saved card and turns auto top-up off, saying why; the user's removal once its detach
// succeeded, and a dispute's at once.
async function forgetCard(db: Database, userId: string, disabledReason: string | null): Promise<void> {
  await db
    .update(autoTopUpSettings)
    .set({ paymentMethodId: null, enabled: false, disabledReason, cardRemovedAt: removalTime, updatedAt: sql`now()` })
    .where(eq(autoTopUpSettings.userId, userId));
}

// The saved card's removal by a dispute: forgotten at once, detached at the provider by the worker.
function cardMethods(db: Database) {
  return {
    forgetCardToDetach: async (userId, disabledReason) => {
      // The settings row locked first: a Checkout saving a new card (under this lock) between the
      // read and the update below would otherwise be forgotten without ever being queued (review10).
      await db.execute(sql`SELECT 1 FROM auto_topup_settings WHERE user_id = ${userId} FOR UPDATE`);
      await db.execute(sql`
        INSERT INTO auto_topup_cards_to_detach (payment_method_id, user_id)
        SELECT payment_method_id, user_id FROM auto_topup_settings
         WHERE user_id = ${userId} AND payment_method_id IS NOT NULL
        ON CONFLICT (payment_method_id) DO NOTHING`);
      await forgetCard(db, userId, disabledReason);
    },

    cardsToDetach: async (limit) => {
      const rows = await db
        .select({ userId: autoTopUpCardsToDetach.userId, card: autoTopUpCardsToDetach.paymentMethodId })
        .from(autoTopUpCardsToDetach)
        .orderBy(sql`${autoTopUpCardsToDetach.lastTriedAt} ASC NULLS FIRST`, autoTopUpCardsToDetach.createdAt)
        .limit(limit);
      return rows;
    },

    cardDetached: async (userId, card) => {
      const deleted = await db
        .delete(autoTopUpCardsToDetach)
        .where(and(eq(autoTopUpCardsToDetach.userId, userId), eq(autoTopUpCardsToDetach.paymentMethodId, card)))
        .returning({ card: autoTopUpCardsToDetach.paymentMethodId });
      return deleted.length > 0;
    },

    cardDetachFailed: async (card) => {
      await db
        .update(autoTopUpCardsToDetach)
        .set({ tries: sql`${autoTopUpCardsToDetach.tries} + 1`, lastTriedAt: sql`now()` })
        .where(eq(autoTopUpCardsToDetach.paymentMethodId, card));
    },
  } satisfies Partial<AutoTopUpStore>;
}
