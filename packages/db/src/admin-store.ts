import {
  type AdminStore,
  type AuditQuery,
  type DailyTotals,
  isUuid,
  type UserSummary,
  unapprovedGrantActions,
} from "@credits/core";
import { and, type Column, desc, eq, gt, gte, inArray, like, lt, lte, ne, or, type SQL, sql } from "drizzle-orm";
import { type Database, rowsOf } from "./client.ts";
import { translated, translatingErrors } from "./errors.ts";
import { createLedgerStore } from "./ledger-store.ts";
import { createOutboxStore } from "./outbox-store.ts";
import { adjustmentRequests, adminActions, users } from "./schema.ts";

// pg_trgm indexes three-character grams: a shorter substring could not use the index.
const MIN_SUBSTRING_SEARCH = 3;

const summaryColumns = {
  id: users.id,
  email: users.email,
  name: users.name,
  role: users.role,
  balance: users.creditsBalance,
  disputedAt: users.disputedAt,
  erasedAt: users.erasedAt,
  createdAt: users.createdAt,
};

// `readDb` (a replica, or `db`) serves the lists and figures an admin looks at: the audit log, the
// user list and search, the daily totals. What an admin acts on (a user's summary and balance, the
// approvals queue, anything in a transaction) stays on `db`.
export function createAdminStore(db: Database, readDb: Database = db): AdminStore {
  return translatingErrors({
    transaction: (work) =>
      translated(() =>
        db.transaction((tx) =>
          work({ admin: createAdminStore(tx), ledger: createLedgerStore(tx, true), outbox: createOutboxStore(tx) }),
        ),
      ),

    insertAction: async (action) => {
      const [row] = await db.insert(adminActions).values(action).returning();
      if (!row) throw new Error("audit row not inserted");
      return row;
    },

    insertAdjustmentRequest: async (request) => {
      const [row] = await db
        .insert(adjustmentRequests)
        .values(request)
        .onConflictDoNothing({ target: adjustmentRequests.idempotencyKey })
        .returning();
      return row ?? null;
    },

    findAdjustmentRequest: async (id) => {
      if (!isUuid(id)) return null;
      const [row] = await db.select().from(adjustmentRequests).where(eq(adjustmentRequests.id, id));
      return row ?? null;
    },

    findAdjustmentRequestByKey: async (key) => {
      const [row] = await db.select().from(adjustmentRequests).where(eq(adjustmentRequests.idempotencyKey, key));
      return row ?? null;
    },

    decideAdjustmentRequest: async (id, { status, decidedBy, now }) => {
      const [row] = await db
        .update(adjustmentRequests)
        .set({ status, decidedBy, decidedAt: now })
        .where(
          and(
            eq(adjustmentRequests.id, id),
            eq(adjustmentRequests.status, "pending"),
            gt(adjustmentRequests.expiresAt, now),
            ne(adjustmentRequests.requestedBy, decidedBy),
            ne(adjustmentRequests.targetUserId, decidedBy),
          ),
        )
        .returning();
      return row ?? null;
    },

    expireAdjustmentRequests: (now) =>
      db
        .update(adjustmentRequests)
        .set({ status: "expired", decidedAt: now })
        .where(and(eq(adjustmentRequests.status, "pending"), lte(adjustmentRequests.expiresAt, now)))
        .returning(),

    listAdjustmentRequests: ({ status, limit }) =>
      db
        .select()
        .from(adjustmentRequests)
        .where(status ? eq(adjustmentRequests.status, status) : undefined)
        .orderBy(desc(adjustmentRequests.createdAt))
        .limit(limit),

    unapprovedAdjustmentTotal: (userId, windowMs) => unapprovedMoveTotal(db, userId, windowMs),

    listActions: (query: AuditQuery) => listActions(readDb, query),

    // Three or more characters: a substring of the email (the trigram index); fewer: a prefix
    // (the pattern index). LIKE's wildcards and escape in the query match themselves.
    searchUsers: (query, limit) => searchUsers(readDb, query, limit),

    getUserSummary: async (userId) => {
      if (!isUuid(userId)) return null;
      const [row] = await db.select(summaryColumns).from(users).where(eq(users.id, userId));
      return row ?? null;
    },

    dailyTotals: (from, to) => dailyTotals(readDb, from, to),
  });
}

function listActions(readDb: Database, query: AuditQuery) {
  const t = adminActions;
  const conditions: (SQL | undefined)[] = [
    query.actorId ? eq(t.actorId, query.actorId) : undefined,
    query.targetUserId ? eq(t.targetUserId, query.targetUserId) : undefined,
    // The filter is any text (an unknown action finds nothing), compared as text.
    query.action ? sql`${t.action} = ${query.action}` : undefined,
    query.from ? gte(t.createdAt, query.from) : undefined,
    query.to ? lt(t.createdAt, query.to) : undefined,
    query.before
      ? sql`(${t.createdAt}, ${t.id}) < (${query.before.createdAt.toISOString()}::timestamptz, ${query.before.id}::uuid)`
      : undefined,
  ];
  return readDb
    .select()
    .from(t)
    .where(and(...conditions))
    .orderBy(desc(t.createdAt), desc(t.id))
    .limit(query.limit);
}

// Newest first; id breaks ties so the order is total (the index of migration 0045).
const newestFirst = [desc(users.createdAt), desc(users.id)];
// How many of the newest users a search reads before it turns to the email indexes (ADR 026).
export const RECENT_USERS_SCANNED = 2_000;

// Two steps, so that neither depends on how many users match (ADR 026). First the newest
// RECENT_USERS_SCANNED users, filtered: a query many users match (a domain, a common fragment)
// fills the page there, and that page is the answer (every user outside is older). Else the
// matches are few: all of them through the trigram or prefix index, then sorted.
async function searchUsers(readDb: Database, query: string, limit: number): Promise<UserSummary[]> {
  if (query === "")
    return readDb
      .select(summaryColumns)
      .from(users)
      .orderBy(...newestFirst)
      .limit(limit);
  const steps = userSearchSteps(readDb, query, limit);
  const page = await steps.recent;
  if (page.length >= limit) return page;
  return steps.all;
}

// The two statements of a search, built here so that a test can plan them as the server's
// prepared statements run (a generic plan must not walk the newest-first index: ADR 026).
export function userSearchSteps(readDb: Database, query: string, limit: number) {
  const escaped = query.toLowerCase().replace(/[\\%_]/g, (ch) => `\\${ch}`);
  const pattern = query.length >= MIN_SUBSTRING_SEARCH ? `%${escaped}%` : `${escaped}%`;
  const matching = (t: { email: Column; id: Column }) =>
    or(like(t.email, pattern), isUuid(query) ? eq(t.id, query) : undefined);
  const recent = readDb
    .select(summaryColumns)
    .from(users)
    .orderBy(...newestFirst)
    .limit(RECENT_USERS_SCANNED)
    .as("recent");
  return {
    recent: readDb
      .select()
      .from(recent)
      .where(matching(recent))
      .orderBy(desc(recent.createdAt), desc(recent.id))
      .limit(limit),
    // Ordered by an expression the newest-first index cannot serve: the planner then cannot walk
    // that index over every user to find a few old matches (ADR 026); equal to created_at.
    all: readDb
      .select(summaryColumns)
      .from(users)
      .where(matching(users))
      .orderBy(sql`${users.createdAt} + interval '0 seconds' desc`, desc(users.id))
      .limit(limit),
  };
}

// Per UTC day: credits bought, spent (spends and captured holds), adjusted, clawed back, and
// revenue per currency from credited payments (what was paid less refunds, tax and lost disputes:
// 0036, 0038); from the daily totals the ledger's and the payments' triggers keep (migration 0011),
// never from the ledger itself.
async function dailyTotals(readDb: Database, from: Date, to: Date): Promise<DailyTotals[]> {
  const first = from.toISOString().slice(0, 10);
  const last = to.toISOString().slice(0, 10);
  const result = await readDb.execute(sql`
    WITH days AS (
      SELECT generate_series(${first}::date, ${last}::date, interval '1 day')::date AS day
    ),
    ledger AS (
      SELECT day, sum(purchased) AS purchased, sum(spent) AS spent, sum(adjusted) AS adjusted,
             sum(clawed_back) AS clawed_back
        FROM ledger_daily_totals WHERE day BETWEEN ${first}::date AND ${last}::date
       GROUP BY day
    ),
    revenue AS (
      SELECT day, jsonb_object_agg(currency, total) AS by_currency FROM (
        SELECT day, currency, sum(net_minor) AS total
          FROM revenue_daily_totals WHERE day BETWEEN ${first}::date AND ${last}::date
         GROUP BY 1, 2
      ) r GROUP BY day
    )
    SELECT to_char(days.day, 'YYYY-MM-DD') AS day,
           coalesce(ledger.purchased, 0) AS purchased, coalesce(ledger.spent, 0) AS spent,
           coalesce(ledger.adjusted, 0) AS adjusted, coalesce(ledger.clawed_back, 0) AS clawed_back,
           coalesce(revenue.by_currency, '{}'::jsonb) AS revenue
      FROM days LEFT JOIN ledger USING (day) LEFT JOIN revenue USING (day)
     ORDER BY days.day`);
  return rowsOf<{
    day: string;
    purchased: string | number;
    spent: string | number;
    adjusted: string | number;
    clawed_back: string | number;
    revenue: Record<string, string | number> | string;
  }>(result).map((row) => {
    const revenue = typeof row.revenue === "string" ? JSON.parse(row.revenue) : row.revenue;
    return {
      day: row.day,
      purchased: Number(row.purchased),
      spent: Number(row.spent),
      adjusted: Number(row.adjusted),
      clawedBack: Number(row.clawed_back),
      revenueMinor: Object.fromEntries(Object.entries(revenue).map(([k, v]) => [k, Number(v)])),
    };
  });
}

// What admins moved for the user alone within the window, from the audit rows, by
// admin_actions_target_idx: an applied adjustment's, key grant's or single-admin break
// acknowledgement's is written in its own transaction (the audit row stamped by the database's
// now(), as every audit row the window compares is; its amount is what it moved) and is
// append-only. Every caller reads this total under the user's balance lock (ADR 023). An approved
// request's row has its own action (adjustment_approved, ledger_break.approved): a second admin saw it.
export async function unapprovedMoveTotal(db: Database, userId: string, windowMs: number): Promise<number> {
  const [row] = await db
    .select({ total: sql<string | number>`coalesce(sum(abs(${adminActions.amount})), 0)` })
    .from(adminActions)
    .where(
      and(
        eq(adminActions.targetUserId, userId),
        sql`${adminActions.createdAt} > now() - ${windowMs} * interval '1 millisecond'`,
        inArray(adminActions.action, unapprovedGrantActions),
      ),
    );
  return Number(row?.total ?? 0);
}
