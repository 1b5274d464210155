import type { ExportHead, ExportSection } from "@credits/core";
import { and, asc, desc, eq, gt, isNull, lte, sql } from "drizzle-orm";
import type { Database } from "./client.ts";
import { apiKeys, creditTransactions, holds, payments, sessions, users } from "./schema.ts";

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
  const [sessionRows, keyRows] = await Promise.all([
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
  ]);
  const { balance, lastSeq, ...profile } = user;
  return { profile, balance, lastSeq: Number(lastSeq ?? 0), sessions: sessionRows, apiKeys: keyRows };
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
const timeKey = (table: typeof payments | typeof holds) =>
  sql<string>`${table.createdAt}::text || '|' || ${table.id}::text`;
const afterTimeKey = (after: string) => {
  const [at, id] = after.split("|");
  return { at: at ?? "", id: id ?? "" };
};

export function readExportPages(db: Database, userId: string, section: ExportSection, head: ExportHead) {
  if (section === "ledger") {
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
  if (section === "payments") {
    // Newest first, as the payments page shows them.
    return keyset((after) => {
      const from = after === null ? null : afterTimeKey(after);
      return db
        .select({
          id: payments.id,
          status: payments.status,
          credits: payments.credits,
          amountMinor: payments.amountMinor,
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
  return keyset((after) => {
    const from = after === null ? null : afterTimeKey(after);
    return db
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
      .where(
        and(
          eq(holds.userId, userId),
          from === null
            ? undefined
            : sql`(${holds.createdAt}, ${holds.id}) > (${from.at}::timestamptz, ${from.id}::uuid)`,
        ),
      )
      .orderBy(asc(holds.createdAt), asc(holds.id))
      .limit(EXPORT_PAGE_ROWS);
  });
}
