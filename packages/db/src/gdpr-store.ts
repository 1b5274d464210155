import { type ErasureTaskKind, type GdprStore, OPEN_STATUSES } from "@credits/core";
import { and, eq, sql } from "drizzle-orm";
import { type Database, rowsOf } from "./client.ts";
import { translated, translatingErrors } from "./errors.ts";
import { readExportHead, readExportPages } from "./gdpr-export-store.ts";
import { dropUserMail } from "./mail-store.ts";
import {
  adminActions,
  apiKeys,
  autoTopUpAttempts,
  autoTopUpCardsToDetach,
  autoTopUpSettings,
  payments,
  processedEvents,
  providerErasureTasks,
  sessions,
  users,
} from "./schema.ts";

// Linking ids matched against the stored payloads per statement.
const SCRUB_BATCH = 500;
// A queued task that failed waits 30 s × 2^tries before the next, at most this long.
const RETRY_CAP = sql`interval '6 hours'`;

const erasable = {
  id: users.id,
  email: users.email,
  stripeCustomerId: users.stripeCustomerId,
  erasedAt: users.erasedAt,
};

// `readDb` (a replica, or `db`) serves the export: a copy of the data that may lag the primary by
// the replica's replay delay. Erasure and its reads stay on `db`.
export function createGdprStore(db: Database, readDb: Database = db): GdprStore {
  return translatingErrors({
    transaction: (work) => translated(() => db.transaction((tx) => work(createGdprStore(tx)))),

    findUser: async (userId) => {
      const [row] = await db.select(erasable).from(users).where(eq(users.id, userId));
      return row ?? null;
    },

    lockUser: async (userId) => {
      const [row] = await db.select(erasable).from(users).where(eq(users.id, userId)).for("update");
      return row ?? null;
    },

    exportHead: (userId) => readExportHead(readDb, userId),
    exportPages: (userId, section, head) => readExportPages(readDb, userId, section, head),

    eraseUser: async (userId, now) => {
      await db.delete(sessions).where(eq(sessions.userId, userId));
      await dropUserMail(db, userId);
      // The saved card's id goes with the customer it belongs to; no top-up can start after this.
      await db.delete(autoTopUpSettings).where(eq(autoTopUpSettings.userId, userId));
      // A disputed card waiting for its detach: deleting the customer at the provider (queued by
      // the erasure) detaches it.
      await db.delete(autoTopUpCardsToDetach).where(eq(autoTopUpCardsToDetach.userId, userId));
      // The attempts' copies of it too (an attempt without a card is skipped, never charged).
      await db.update(autoTopUpAttempts).set({ paymentMethodId: null }).where(eq(autoTopUpAttempts.userId, userId));
      // A provider's receipt link is a bearer link to a page with the payer's email and card.
      await db.update(payments).set({ receiptUrl: null }).where(eq(payments.userId, userId));
      await db
        .update(apiKeys)
        .set({ name: "(erased)", revokedAt: sql`coalesce(${apiKeys.revokedAt}, ${now.toISOString()}::timestamptz)` })
        .where(eq(apiKeys.ownerUserId, userId));
      await db
        .update(users)
        .set({ email: null, name: null, passwordHash: null, stripeCustomerId: null, erasedAt: now })
        .where(eq(users.id, userId));
    },

    // Provider payloads (the raw webhook bodies) name the customer: by email, and by the ids that
    // link them to the user: their customer id, and each payment's own id (client_reference_id,
    // metadata), checkout session, payment intent and charge (refunds and disputes carry these,
    // not the email). Every payload holding any of them is dropped. (Rate-limit keys are keyed
    // hashes, never an email: nothing there to scrub.)
    scrub: async (userId, needles) => {
      const linked = await db
        .select({
          id: payments.id,
          session: payments.providerSessionId,
          intent: payments.providerPaymentIntentId,
          charge: payments.providerChargeId,
        })
        .from(payments)
        .where(eq(payments.userId, userId));
      const links = linked.flatMap((payment) => [payment.id, payment.session, payment.intent, payment.charge]);
      const all = [...new Set([...needles, ...links].filter((value): value is string => !!value))];
      for (let start = 0; start < all.length; start += SCRUB_BATCH) {
        const batch = sql.join(
          all.slice(start, start + SCRUB_BATCH).map((value) => sql`${value}`),
          sql`, `,
        );
        await db
          .update(processedEvents)
          .set({ payload: null })
          .where(
            sql`${processedEvents.payload} IS NOT NULL AND EXISTS (SELECT 1 FROM unnest(ARRAY[${batch}]::text[]) AS link
                 WHERE strpos(${processedEvents.payload}, link) > 0)`,
          );
      }
    },

    queueCustomerDeletion: async (userId, customerId) => {
      await db
        .insert(providerErasureTasks)
        .values({ kind: "delete_customer", targetId: customerId, userId, tries: 1, lastTriedAt: sql`now()` })
        .onConflictDoNothing();
    },

    // A payment with a session and no credit, not closed: its session may still be paid.
    queueSessionExpiries: async (userId) => {
      const open = sql.join(
        OPEN_STATUSES.map((status) => sql`${status}`),
        sql`, `,
      );
      const result = await db.execute(sql`
        INSERT INTO provider_erasure_tasks (kind, target_id, user_id, tries, last_tried_at)
        SELECT 'expire_session', provider_session_id, user_id, 1, now() FROM payments
         WHERE user_id = ${userId} AND provider_session_id IS NOT NULL AND credited_at IS NULL
           AND status::text IN (${open})
        ON CONFLICT DO NOTHING
        RETURNING target_id`);
      return rowsOf<{ target_id: string }>(result).map((row) => row.target_id);
    },

    claimErasureTask: async (kinds) => {
      const t = providerErasureTasks;
      const wanted = sql.join(
        kinds.map((kind) => sql`${kind}`),
        sql`, `,
      );
      // false sorts first: sessions and refunds due before customers due.
      const result = await db.execute(sql`
        UPDATE provider_erasure_tasks SET tries = tries + 1, last_tried_at = now()
         WHERE (kind, target_id) = (
           SELECT ${t.kind}, ${t.targetId} FROM ${t}
            WHERE ${t.kind} IN (${wanted})
              AND (${t.lastTriedAt} IS NULL
               OR ${t.lastTriedAt} <= now() - least(interval '30 seconds' * power(2, least(${t.tries}, 12)), ${RETRY_CAP}))
            ORDER BY ${t.kind} = 'delete_customer', ${t.lastTriedAt} NULLS FIRST, ${t.createdAt}
            LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING kind, target_id, tries`);
      const [row] = rowsOf<{ kind: ErasureTaskKind; target_id: string; tries: number }>(result);
      return row ? { kind: row.kind, targetId: row.target_id, tries: Number(row.tries) } : null;
    },

    erasureTaskDone: async ({ kind, targetId }) => {
      await db
        .delete(providerErasureTasks)
        .where(and(eq(providerErasureTasks.kind, kind), eq(providerErasureTasks.targetId, targetId)));
    },

    recordErasure: async ({ actorId, userId, requestId, reason }) => {
      await db
        .insert(adminActions)
        .values({ actorId, targetUserId: userId, action: "gdpr_erasure", requestId, reason });
    },
  });
}
