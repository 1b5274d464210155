import { type DueMail, type MailStore, type MailTemplate, mailTemplates } from "@credits/core";
import { and, desc, eq, inArray, isNotNull, lt, sql } from "drizzle-orm";
import { type Database, rowsOf } from "./client.ts";
import { translatingErrors } from "./errors.ts";
import { creditPackages, mails, payments, users } from "./schema.ts";

interface ClaimedRow {
  id: string;
  cause: string;
  template: string;
  attempts: number;
  user_id: string | null;
  to_address: string | null;
  data: Record<string, unknown>;
}

// The mail queue (migration 0010). Claiming takes due rows no other instance holds (SKIP LOCKED)
// and moves their next attempt past a lease, so a crashed sender's mail is retried, not lost.
export function createMailStore(db: Database): MailStore {
  return translatingErrors({
    claimDue: async (limit, now, leaseUntil) => {
      const claimed = rowsOf<ClaimedRow>(
        await db.execute(sql`
          WITH due AS (
            SELECT id FROM mails
             WHERE status = 'pending' AND next_attempt_at <= ${now.toISOString()}::timestamptz
             ORDER BY next_attempt_at LIMIT ${limit}
             FOR UPDATE SKIP LOCKED)
          UPDATE mails m SET attempts = m.attempts + 1, next_attempt_at = ${leaseUntil.toISOString()}::timestamptz
            FROM due WHERE m.id = due.id
          RETURNING m.id, m.cause, m.template, m.attempts, m.user_id, m.to_address, m.data`),
      );
      return Promise.all(claimed.map((row) => dueMail(db, row)));
    },

    markSent: async (id, at, kept) => {
      await db.update(mails).set({ status: "sent", sentAt: at, rendered: kept }).where(eq(mails.id, id));
    },

    finish: async (id, status) => {
      await db.update(mails).set({ status }).where(eq(mails.id, id));
    },

    retryAt: async (id, at) => {
      await db.update(mails).set({ nextAttemptAt: at }).where(eq(mails.id, id));
    },

    keepLocal: async (cause, template, kept) => {
      await db
        .insert(mails)
        .values({ cause, template, toAddress: kept.to, status: "sent", sentAt: new Date(), rendered: kept })
        .onConflictDoNothing({ target: mails.cause });
    },

    pruneLocal: async (before) => {
      const pruned = await db
        .delete(mails)
        .where(and(isNotNull(mails.rendered), lt(mails.createdAt, before)))
        .returning({ id: mails.id });
      return pruned.length;
    },
  });
}

// The facts a template needs, read now: the user's current address and name, the pack and money
// of a receipt's payment.
async function dueMail(db: Database, row: ClaimedRow): Promise<DueMail> {
  const data = row.data ?? {};
  const template = (mailTemplates as readonly string[]).includes(row.template)
    ? (row.template as MailTemplate)
    : "low_balance";
  const [user] = row.user_id
    ? await db.select({ email: users.email, name: users.name }).from(users).where(eq(users.id, row.user_id))
    : [];
  const paymentId = typeof data.paymentId === "string" ? data.paymentId : null;
  const [payment] = paymentId
    ? await db
        .select({
          packName: creditPackages.name,
          // What was paid (after a promotion code, with tax), else the price (credited before 0023).
          amountMinor: sql<number>`coalesce(${payments.amountPaidMinor}, ${payments.amountMinor})`.mapWith(Number),
          currency: payments.currency,
        })
        .from(payments)
        .innerJoin(creditPackages, eq(creditPackages.id, payments.packageId))
        .where(eq(payments.id, paymentId))
    : [];
  const packageId = typeof data.packageId === "string" ? data.packageId : null;
  const [pack] =
    packageId && !payment
      ? await db.select({ packName: creditPackages.name }).from(creditPackages).where(eq(creditPackages.id, packageId))
      : [];
  const number = (key: string) => (typeof data[key] === "number" ? (data[key] as number) : undefined);
  return {
    id: row.id,
    cause: row.cause,
    template,
    attempts: row.attempts,
    to: row.user_id ? (user?.email ?? null) : row.to_address,
    facts: {
      name: user?.name ?? null,
      credits: number("credits"),
      balance: number("balance"),
      threshold: number("threshold"),
      endpointHost: typeof data.endpointHost === "string" ? data.endpointHost : undefined,
      failedDeliveries: number("failedDeliveries"),
      // An auto top-up failure's link to buy the same pack on-session (made by us, not by a user).
      ...(typeof data.payUrl === "string" ? { payUrl: data.payUrl } : {}),
      // An auto top-up failure's reason, and the currency a pack is no longer sold in.
      ...(typeof data.reason === "string" ? { reason: data.reason } : {}),
      ...(typeof data.currency === "string" ? { currency: data.currency } : {}),
      ...(typeof data.expiresAt === "string" ? { expiresAt: data.expiresAt } : {}),
      ...(pack ?? {}),
      ...(payment ?? {}),
    },
  };
}

export interface LocalMail {
  id: string;
  createdAt: Date;
  rendered: { to: string; subject: string; text: string; html: string; messageId: string };
}

// The local outbox, newest first, for /dev/mail.
export async function listLocalMail(db: Database, limit: number): Promise<LocalMail[]> {
  const rows = await db
    .select({ id: mails.id, createdAt: mails.createdAt, rendered: mails.rendered })
    .from(mails)
    .where(isNotNull(mails.rendered))
    .orderBy(desc(mails.createdAt))
    .limit(limit);
  return rows as LocalMail[];
}

// Erasure: the user's queued and kept mail goes with the rest of their personal data.
export async function dropUserMail(db: Database, userId: string): Promise<void> {
  await db.delete(mails).where(inArray(mails.userId, [userId]));
}
