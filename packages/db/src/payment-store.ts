import { type PaymentStore, promotionActions } from "@credits/core";
import { paymentTransitions as transitionsCounter } from "@credits/observability";
import { and, desc, eq, inArray, isNull, or, sql } from "drizzle-orm";
import { createAutoTopUpStore } from "./autotopup-store.ts";
import { type Database, rowsOf } from "./client.ts";
import { translated, translatingErrors } from "./errors.ts";
import { createLedgerStore } from "./ledger-store.ts";
import { createOutboxStore } from "./outbox-store.ts";
import { createRefundStore } from "./refund-store.ts";
import {
  adminActions,
  autoTopUpSettings,
  paymentExpirySettles,
  payments,
  paymentTransitions,
  processedEvents,
  users,
} from "./schema.ts";

// Our payment ids are UUIDs. A provider reference that is not one (a client_reference_id set by
// another integration on the same Stripe account) names no payment: answer "none" rather than let
// PostgreSQL fail the query (22P02), which would turn a signed webhook into a 500 retried for days.
const PAYMENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createPaymentStore(db: Database): PaymentStore {
  const byRef = (ref: { paymentIntentId: string | null; chargeId: string | null }) =>
    or(
      ref.paymentIntentId ? eq(payments.providerPaymentIntentId, ref.paymentIntentId) : undefined,
      ref.chargeId ? eq(payments.providerChargeId, ref.chargeId) : undefined,
    );

  const store: PaymentStore = {
    transaction: (work) =>
      translated(() =>
        db.transaction((tx) =>
          work({
            payments: createPaymentStore(tx),
            ledger: createLedgerStore(tx, true),
            outbox: createOutboxStore(tx),
            refunds: createRefundStore(tx),
            autoTopUps: createAutoTopUpStore(tx),
          }),
        ),
      ),

    refunds: createRefundStore(db),

    // null when the user's checkout key is taken (a double submit).
    insertPayment: async (payment) => {
      const [row] = await db
        .insert(payments)
        .values(payment)
        .onConflictDoNothing({ target: [payments.userId, payments.idempotencyKey] })
        .returning();
      return row ?? null;
    },

    findPaymentBySession: async (providerSessionId) => {
      const [row] = await db.select().from(payments).where(eq(payments.providerSessionId, providerSessionId));
      return row ?? null;
    },

    findPaymentByKey: async (userId, idempotencyKey) => {
      const [row] = await db
        .select()
        .from(payments)
        .where(and(eq(payments.userId, userId), eq(payments.idempotencyKey, idempotencyKey)));
      return row ?? null;
    },

    findPayment: async (id) => {
      if (!PAYMENT_ID.test(id)) return null;
      const [row] = await db.select().from(payments).where(eq(payments.id, id));
      return row ?? null;
    },

    listUserPayments: (userId, limit) =>
      db.select().from(payments).where(eq(payments.userId, userId)).orderBy(desc(payments.createdAt)).limit(limit),

    expirySettlesDue: (limit) =>
      db
        .select({ paymentId: paymentExpirySettles.paymentId, id: paymentExpirySettles.id })
        .from(paymentExpirySettles)
        .orderBy(paymentExpirySettles.notedAt, paymentExpirySettles.paymentId)
        .limit(limit),

    claimExpirySettle: async (paymentId, id) => {
      const claimed = await db
        .delete(paymentExpirySettles)
        .where(and(eq(paymentExpirySettles.paymentId, paymentId), eq(paymentExpirySettles.id, id)))
        .returning({ id: paymentExpirySettles.id });
      return claimed.length > 0;
    },

    lockPayment: async (id) => {
      if (!PAYMENT_ID.test(id)) return null;
      const [row] = await db.select().from(payments).where(eq(payments.id, id)).for("update");
      return row ?? null;
    },

    lockPaymentByProviderRef: async (ref) => {
      const condition = byRef(ref);
      if (!condition) return null;
      const [row] = await db.select().from(payments).where(condition).limit(1).for("update");
      return row ?? null;
    },

    updatePayment: async (id, patch) => {
      const [row] = await db
        .update(payments)
        .set({ ...patch, updatedAt: sql`now()` })
        .where(eq(payments.id, id))
        .returning();
      if (!row) throw new Error(`payment ${id} not found`);
      return row;
    },

    recordTransition: async (transition) => {
      await db.insert(paymentTransitions).values({
        paymentId: transition.paymentId,
        fromStatus: transition.from,
        toStatus: transition.to,
        source: transition.source,
      });
      transitionsCounter.inc({ from: transition.from, to: transition.to });
    },

    ...eventsAndUsers(db),
  };
  return translatingErrors(store);
}

// The provider's events (the inbox), and what payments need of their user: the billing profile,
// the customer at the provider, the credits promotion codes left unpaid in the approval window.
function eventsAndUsers(
  db: Database,
): Pick<
  PaymentStore,
  | "lockEvent"
  | "recordEvent"
  | "getBillingProfile"
  | "setProviderCustomer"
  | "unpaidPromotionCredits"
  | "isUserErased"
  | "storeCheckoutSession"
> {
  return {
    // Two statements: one statement's snapshot is taken before it waits for the lock, so it would
    // not see the row a concurrent delivery committed while this one waited.
    lockEvent: async (eventId) => {
      await db.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`event:${eventId}`}, 0))`);
      const [row] = await db
        .select({ id: processedEvents.id })
        .from(processedEvents)
        .where(eq(processedEvents.id, eventId));
      return row !== undefined;
    },

    recordEvent: async (event) => {
      const rows = await db
        .insert(processedEvents)
        .values(event)
        .onConflictDoNothing({ target: processedEvents.id })
        .returning({ id: processedEvents.id });
      return rows.length === 1;
    },

    getBillingProfile: async (userId) => {
      const [row] = await db
        .select({
          email: users.email,
          providerCustomerId: users.stripeCustomerId,
          saveCard: sql<boolean>`coalesce(${autoTopUpSettings.enabled} AND ${autoTopUpSettings.paymentMethodId} IS NULL, false)`,
        })
        .from(users)
        .leftJoin(autoTopUpSettings, eq(autoTopUpSettings.userId, users.id))
        .where(and(eq(users.id, userId), isNull(users.erasedAt)));
      return row ?? null;
    },

    isUserErased: async (userId) => {
      const [row] = await db
        .select({ erasedAt: users.erasedAt })
        .from(users)
        .where(eq(users.id, userId))
        .for("key share");
      return Boolean(row?.erasedAt);
    },

    setProviderCustomer: (userId, customerId) => setProviderCustomer(db, userId, customerId),

    // FOR KEY SHARE waits for the erasure's FOR UPDATE (and reads the row it committed), and is
    // waited for by it, yet does not block the user's own postings (a balance update is FOR NO KEY
    // UPDATE).
    storeCheckoutSession: async (payment, session) => {
      const result = await db.execute(sql`
        WITH target AS (
          SELECT id, erased_at FROM users WHERE id = ${payment.userId} FOR KEY SHARE
        ), stored AS (
          UPDATE payments SET provider_session_id = ${session.id}, checkout_url = ${session.url}, updated_at = now()
          FROM target WHERE payments.id = ${payment.id} AND target.erased_at IS NULL
          RETURNING payments.id
        ), queued AS (
          INSERT INTO provider_erasure_tasks (kind, target_id, user_id)
          SELECT 'expire_session', ${session.id}, id FROM target WHERE erased_at IS NOT NULL
          ON CONFLICT DO NOTHING
        )
        SELECT count(*)::int AS stored FROM stored`);
      return Number(rowsOf<{ stored: number }>(result)[0]?.stored ?? 0) === 1;
    },

    // By admin_actions_target_idx, as the adjustments' window total (ADR 023): audit rows are
    // append-only and stamped by the database's now(), as the window's edge is. Each purchase's
    // share rounded up; rows written before it was recorded have only the rounded-down one.
    unpaidPromotionCredits: async (userId, windowMs) => {
      const unpaid = sql`coalesce(${adminActions.detail}->>'unpaidCreditsUp', ${adminActions.detail}->>'unpaidCredits')`;
      const [row] = await db
        .select({ total: sql<string | number>`coalesce(sum((${unpaid})::bigint), 0)` })
        .from(adminActions)
        .where(
          and(
            eq(adminActions.targetUserId, userId),
            sql`${adminActions.createdAt} > now() - ${windowMs} * interval '1 millisecond'`,
            inArray(adminActions.action, promotionActions),
          ),
        );
      return Number(row?.total ?? 0);
    },
  };
}

// The usual case, the customer already stored (a card saved on it), takes no lock: a lock here
// would order the user row after the auto top-up settings row, against the erasure's order.
// Storing a new one is one statement under the user's row lock, so an erasure committing
// meanwhile is seen: a customer created for a user erased since is queued for deletion, never
// stored (null).
async function setProviderCustomer(db: Database, userId: string, customerId: string): Promise<string | null> {
  const [current] = await db
    .select({ id: users.stripeCustomerId })
    .from(users)
    .where(and(eq(users.id, userId), isNull(users.erasedAt)));
  if (current?.id === customerId) return customerId;
  const result = await db.execute(sql`
    WITH target AS (
      SELECT id, erased_at, stripe_customer_id FROM users WHERE id = ${userId} FOR UPDATE
    ), stored AS (
      UPDATE users SET stripe_customer_id = ${customerId} FROM target
      WHERE users.id = target.id AND target.erased_at IS NULL AND target.stripe_customer_id IS NULL
      RETURNING users.stripe_customer_id
    ), queued AS (
      INSERT INTO provider_erasure_tasks (kind, target_id, user_id)
      SELECT 'delete_customer', ${customerId}, id FROM target WHERE erased_at IS NOT NULL
      ON CONFLICT DO NOTHING
    )
    SELECT CASE WHEN target.erased_at IS NULL
      THEN coalesce((SELECT stripe_customer_id FROM stored), target.stripe_customer_id) END AS customer_id
    FROM target`);
  return rowsOf<{ customer_id: string | null }>(result)[0]?.customer_id ?? null;
}
