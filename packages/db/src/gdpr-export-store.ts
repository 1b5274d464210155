import type { ExportHead, ExportSection } from "@credits/core";
import { type AnyColumn, and, asc, desc, eq, gt, isNull, lte, type SQL, sql } from "drizzle-orm";
import type { Database } from "./client.ts";
import {
  apiKeys,
  autoTopUpAttempts,
  autoTopUpSettings,
  creditTransactions,
  holds,
  paymentRefunds,
  payments,
  sessions,
  users,
} from "./schema.ts";

// Rows per statement of a streamed export: the most it holds in memory at once (issue 17).
export const EXPORT_PAGE_ROWS = 1_000;

type Row = Record<string, unknown>;

// The profile, the balance and the newest ledger row's seq in one statement (one snapshot).
export async function readExportHead(db: Database, userId: string): Promise<ExportHead | null> {
  const [user] = await db
    .select({
      id: users.id,
      email: users.email,
      name: users.name,
      role: users.role,
      createdAt: users.createdAt,
      balance: users.creditsBalance,
      lastSeq: sql<string | null>`(SELECT max(t.seq) FROM credit_transactions t WHERE t.user_id = users.id)`,
    })
    .from(users)
    .where(and(eq(users.id, userId), isNull(users.erasedAt)));
  if (!user) return null;
  const [sessionRows, keyRows, autoTopUp] = await Promise.all([
    db
      .select({ createdAt: sessions.createdAt, expiresAt: sessions.expiresAt })
      .from(sessions)
      .where(eq(sessions.userId, userId)),
    db
      .select({
        id: apiKeys.id,
        name: apiKeys.name,
        prefix: apiKeys.prefix,
        scopes: apiKeys.scopes,
        createdAt: apiKeys.createdAt,
        revokedAt: apiKeys.revokedAt,
      })
      .from(apiKeys)
      .where(eq(apiKeys.ownerUserId, userId)),
    db
      .select({
        enabled: autoTopUpSettings.enabled,
        threshold: autoTopUpSettings.threshold,
        packageId: autoTopUpSettings.packageId,
        cardSaved: sql<boolean>`${autoTopUpSettings.paymentMethodId} IS NOT NULL`,
        consecutiveFailures: autoTopUpSettings.consecutiveFailures,
        disabledReason: autoTopUpSettings.disabledReason,
        updatedAt: autoTopUpSettings.updatedAt,
      })
      .from(autoTopUpSettings)
      .where(eq(autoTopUpSettings.userId, userId)),
  ]);
  const { balance, lastSeq, ...profile } = user;
  return {
    profile,
    balance,
    lastSeq: Number(lastSeq ?? 0),
    sessions: sessionRows,
    apiKeys: keyRows,
    autoTopUp: autoTopUp[0] ?? null,
  };
}

// Keyset pages: each statement starts after the last row of the one before, so every page costs
// the same however deep into the history it is. `cursor` is a page's last row's key, dropped
// from the rows sent.
async function* keyset(page: (after: string | null) => Promise<(Row & { cursor: string })[]>): AsyncGenerator<Row[]> {
  let after: string | null = null;
  for (;;) {
    const rows = await page(after);
    if (rows.length > 0) yield rows.map(({ cursor: _cursor, ...row }) => row);
    if (rows.length < EXPORT_PAGE_ROWS) return;
    after = rows[rows.length - 1]?.cursor ?? null;
  }
}

// (created_at, id) as text: microseconds and the offset survive, which a JavaScript Date would not.
type TimeKeyed = { createdAt: AnyColumn; id: AnyColumn };
const timeKey = (table: TimeKeyed) => sql<string>`${table.createdAt}::text || '|' || ${table.id}::text`;
const afterTimeKey = (after: string) => {
  const [at, id] = after.split("|");
  return { at: at ?? "", id: id ?? "" };
};

// Rows after the keyset cursor (created_at, id), oldest first.
function afterTime(table: TimeKeyed, after: string | null): SQL | undefined {
  if (after === null) return undefined;
  const from = afterTimeKey(after);
  return sql`(${table.createdAt}, ${table.id}) > (${from.at}::timestamptz, ${from.id}::uuid)`;
}

export function readExportPages(db: Database, userId: string, section: ExportSection, head: ExportHead) {
  const pages: Record<ExportSection, () => AsyncGenerator<Row[]>> = {
    ledger: () => ledgerPages(db, userId, head),
    payments: () => paymentPages(db, userId),
    holds: () => holdPages(db, userId),
    refunds: () => refundPages(db, userId),
    autoTopUpAttempts: () => attemptPages(db, userId),
  };
  return pages[section]();
}

function ledgerPages(db: Database, userId: string, head: ExportHead) {
  return keyset((after) =>
    db
      .select({
        id: creditTransactions.id,
        seq: creditTransactions.seq,
        kind: creditTransactions.kind,
        amount: creditTransactions.amount,
        balanceAfter: creditTransactions.balanceAfter,
        reason: creditTransactions.reason,
        paymentId: creditTransactions.paymentId,
        holdId: creditTransactions.holdId,
        createdAt: creditTransactions.createdAt,
        cursor: sql<string>`${creditTransactions.seq}::text`,
      })
      .from(creditTransactions)
      .where(
        and(
          eq(creditTransactions.userId, userId),
          lte(creditTransactions.seq, head.lastSeq),
          after === null ? undefined : gt(creditTransactions.seq, Number(after)),
        ),
      )
      .orderBy(asc(creditTransactions.seq))
      .limit(EXPORT_PAGE_ROWS),
  );
}

// What was paid once credited (the price for a payment credited before 0023 recorded it; null
// before crediting), as GET /payments/{id} says it.
const paidOnceCredited = sql<number | null>`CASE WHEN ${payments.creditedAt} IS NOT NULL
  THEN coalesce(${payments.amountPaidMinor}, ${payments.amountMinor}) END`.mapWith(Number);

// Newest first, as the payments page shows them; with what was paid, and the discount and tax the
// provider's session recorded (null when it recorded none).
function paymentPages(db: Database, userId: string) {
  return keyset((after) => {
    const from = after === null ? null : afterTimeKey(after);
    return db
      .select({
        id: payments.id,
        status: payments.status,
        credits: payments.credits,
        amountMinor: payments.amountMinor,
        amountPaidMinor: paidOnceCredited,
        amountDiscountMinor: payments.amountDiscountMinor,
        amountTaxMinor: payments.amountTaxMinor,
        currency: payments.currency,
        amountRefundedMinor: payments.amountRefundedMinor,
        createdAt: payments.createdAt,
        creditedAt: payments.creditedAt,
        cursor: timeKey(payments),
      })
      .from(payments)
      .where(
        and(
          eq(payments.userId, userId),
          from === null
            ? undefined
            : sql`(${payments.createdAt}, ${payments.id}) < (${from.at}::timestamptz, ${from.id}::uuid)`,
        ),
      )
      .orderBy(desc(payments.createdAt), desc(payments.id))
      .limit(EXPORT_PAGE_ROWS);
  });
}

function holdPages(db: Database, userId: string) {
  return keyset((after) =>
    db
      .select({
        id: holds.id,
        amount: holds.amount,
        capturedAmount: holds.capturedAmount,
        status: holds.status,
        expiresAt: holds.expiresAt,
        createdAt: holds.createdAt,
        cursor: timeKey(holds),
      })
      .from(holds)
      .where(and(eq(holds.userId, userId), afterTime(holds, after)))
      .orderBy(asc(holds.createdAt), asc(holds.id))
      .limit(EXPORT_PAGE_ROWS),
  );
}

// The refunds of the user's payments: not the provider's refund id, the key, nor who (which
// admins) asked and decided; the reason is the one the refund was given.
function refundPages(db: Database, userId: string) {
  return keyset((after) =>
    db
      .select({
        id: paymentRefunds.id,
        paymentId: paymentRefunds.paymentId,
        amountMinor: paymentRefunds.amountMinor,
        currency: paymentRefunds.currency,
        status: paymentRefunds.status,
        reason: paymentRefunds.reason,
        createdAt: paymentRefunds.createdAt,
        decidedAt: paymentRefunds.decidedAt,
        cursor: timeKey(paymentRefunds),
      })
      .from(paymentRefunds)
      .where(and(eq(paymentRefunds.userId, userId), afterTime(paymentRefunds, after)))
      .orderBy(asc(paymentRefunds.createdAt), asc(paymentRefunds.id))
      .limit(EXPORT_PAGE_ROWS),
  );
}

// Each auto top-up attempt: not the card charged (the provider's PaymentMethod).
function attemptPages(db: Database, userId: string) {
  return keyset((after) =>
    db
      .select({
        id: autoTopUpAttempts.id,
        status: autoTopUpAttempts.status,
        reason: autoTopUpAttempts.reason,
        packageId: autoTopUpAttempts.packageId,
        paymentId: autoTopUpAttempts.paymentId,
        createdAt: autoTopUpAttempts.createdAt,
        updatedAt: autoTopUpAttempts.updatedAt,
        cursor: timeKey(autoTopUpAttempts),
      })
      .from(autoTopUpAttempts)
      .where(and(eq(autoTopUpAttempts.userId, userId), afterTime(autoTopUpAttempts, after)))
      .orderBy(asc(autoTopUpAttempts.createdAt), asc(autoTopUpAttempts.id))
      .limit(EXPORT_PAGE_ROWS),
  );
}
