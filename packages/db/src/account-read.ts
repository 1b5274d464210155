import type {
  AccountEntry,
  AccountGrant,
  AccountView,
  BalanceView,
  FoundSession,
  GrantAllocation,
  LedgerQuery,
  OfSession,
  PageQuery,
} from "@credits/core";
import { and, asc, desc, eq, gt, gte, lt, sql } from "drizzle-orm";
import type { SelectedFields } from "drizzle-orm/pg-core";
import { sessionColumns, sessionUserColumns } from "./auth-stores.ts";
import type { Database } from "./client.ts";
import { entryColumns } from "./grant-store.ts";
import { prepared } from "./prepared.ts";
import { creditTransactions, sessions, users } from "./schema.ts";

// The reads a product makes most (issue 17): the balance, the live grants and the newest page of
// history, or the balance and the next expiry, each ONE statement and one round trip, at the
// instant `at` (the service's clock, as every other read of grants). The page and the grants come
// back as JSON arrays in the one row, so the balance is there even when the page is empty, with
// only the fields the read's answer shows (AccountEntry, AccountGrant): the JSON is built by
// PostgreSQL and parsed by the driver on every read.

// One prepared statement per combination of filters the page uses.
type PageVariant = { kinds: boolean; from: boolean; to: boolean; after: boolean; desc: boolean };

const at = sql.placeholder("at");
const userId = sql.placeholder("userId");

// The balance at `at`: the cached balance less the remainders of grants already past their expiry
// that no posting or sweep has recorded yet (as grant-store's liveBalance).
// Written out, not with drizzle's columns: drizzle leaves the columns of a one-table select
// unqualified, and "id" inside these subqueries would then be the subquery's own.
const liveBalance = sql<string | number>`"users"."credits_balance" - coalesce((
  SELECT sum(d.remaining) FROM credit_grants d
   WHERE d.user_id = "users"."id" AND d.remaining > 0 AND d.expires_at <= ${at}::timestamptz
), 0)`;

// An instant as JSON takes it cheapest to a Date: milliseconds since the epoch. The columns are
// timestamptz(3), so the milliseconds are whole and nothing is dropped; round, not floor, because
// before PostgreSQL 14 extract returns a double, whose product can fall just below the whole
// millisecond (…122.99999), and round gives the exact integer there as numeric does from 14 on.
const epochMs = (column: string) => sql.raw(`round(extract(epoch FROM ${column}) * 1000)::bigint`);

// Live grants at `at` in spending order (listGrants' order), as one JSON array.
const liveGrants = sql<GrantJson[] | string | null>`(
  SELECT json_agg(json_build_object('id', lg.id, 'category', lg.category, 'priority', lg.priority,
           'remaining', lg.remaining, 'expires_ms', ${epochMs("lg.expires_at")},
           'created_ms', ${epochMs("lg.created_at")})
         ORDER BY lg.priority, lg.expires_at NULLS LAST, lg.created_at, lg.entry_seq NULLS FIRST, lg.id)
    FROM (SELECT g.id, g.category, g.priority, g.remaining, g.expires_at, g.created_at, g.entry_seq
            FROM credit_grants g
           WHERE g.user_id = "users"."id" AND g.remaining > 0
             AND (g.expires_at IS NULL OR g.expires_at > ${at}::timestamptz)) lg)`;

// Whose account: a user's by id, or a session's own user's (by the session's stored id), the
// session and its user then coming back in the same row (issue 17: one round trip for /me/*).
type Subject = "user" | "session";
const owner = { user: userId, session: sql`"users"."id"` };

function fromSubject<S extends SelectedFields>(db: Database, subject: Subject, fields: S) {
  if (subject === "user") return db.select(fields).from(users).where(eq(users.id, userId)).$dynamic();
  return db
    .select({ ...fields, session: sessionColumns, user: sessionUserColumns })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.id, sql.placeholder("sessionId")))
    .$dynamic();
}

const accountQueries = new Map<string, ReturnType<typeof accountQueryOf>>();
const accountQueryOf = (v: PageVariant, subject: Subject) =>
  prepared((db) => {
    const t = creditTransactions;
    const { id, seq, kind, amount, balanceAfter, reason, paymentId, holdId, allocations } = entryColumns;
    const columns = { id, seq, kind, amount, balanceAfter, reason, paymentId, holdId, allocations };
    const page = db
      .select({ ...columns, createdMs: sql<number>`${epochMs('"credit_transactions"."created_at"')}`.as("created_ms") })
      .from(t)
      .where(
        and(
          eq(t.userId, owner[subject]),
          v.kinds ? sql`${t.kind} = ANY(${sql.placeholder("kinds")}::credit_transaction_kind[])` : undefined,
          v.from ? gte(t.createdAt, sql.placeholder("from")) : undefined,
          v.to ? lt(t.createdAt, sql.placeholder("to")) : undefined,
          v.after ? (v.desc ? lt(t.seq, sql.placeholder("after")) : gt(t.seq, sql.placeholder("after"))) : undefined,
        ),
      )
      .orderBy(v.desc ? desc(t.seq) : asc(t.seq))
      .limit(sql.placeholder("limit"));
    const order = sql.raw(v.desc ? "DESC" : "ASC");
    return fromSubject(db, subject, {
      balance: liveBalance,
      grants: liveGrants,
      entries: sql<EntryJson[] | string | null>`(SELECT json_agg(p ORDER BY p.seq ${order}) FROM (${page}) p)`,
    }).prepare(`account_read_${subject}`);
  });

const balanceQueryOf = (subject: Subject) =>
  prepared((db) =>
    fromSubject(db, subject, {
      balance: liveBalance,
      // The earliest expiry among live grants and what it takes (grants.ts grantsView's nextExpiry).
      nextExpiry: sql<{ at: string; amount: number } | string | null>`(
        SELECT json_build_object('at', ne.expires_at, 'amount', ne.amount) FROM (
          SELECT g.expires_at, sum(g.remaining) AS amount FROM credit_grants g
           WHERE g.user_id = "users"."id" AND g.remaining > 0 AND g.expires_at > ${at}::timestamptz
           GROUP BY g.expires_at ORDER BY g.expires_at LIMIT 1) ne)`,
    }).prepare(`balance_read_${subject}`),
  );
const balanceQueries = { user: balanceQueryOf("user"), session: balanceQueryOf("session") };

export function accountReads(db: Database) {
  const account = async (subject: Subject, query: PageQuery, params: Record<string, string>, instant: Date) => {
    const [row] = await accountQuery(
      query,
      subject,
    )(db).execute({
      ...params,
      at: instant.toISOString(),
      // An array literal: PGlite does not turn a JS array parameter into one (as listEntries).
      kinds: query.kinds ? `{${query.kinds.join(",")}}` : undefined,
      from: query.from?.toISOString(),
      to: query.to?.toISOString(),
      after: query.after?.seq,
      limit: query.limit,
    });
    if (!row) return null;
    const view: AccountView = {
      balance: Number(row.balance),
      grants: parsed<GrantJson>(row.grants).map(toGrant),
      entries: parsed<EntryJson>(row.entries).map(toEntry),
    };
    return { row, view };
  };

  const balance = async (subject: Subject, params: Record<string, string>, instant: Date) => {
    const [row] = await balanceQueries[subject](db).execute({ ...params, at: instant.toISOString() });
    if (!row) return null;
    const next = row.nextExpiry === null ? null : parsedOne(row.nextExpiry);
    const view: BalanceView = {
      balance: Number(row.balance),
      nextExpiry: next ? { amount: Number(next.amount), at: new Date(next.at) } : null,
    };
    return { row, view };
  };

  return {
    readAccount: async (query: LedgerQuery, instant: Date): Promise<AccountView | null> =>
      (await account("user", query, { userId: query.userId }, instant))?.view ?? null,

    readBalance: async (id: string, instant: Date): Promise<BalanceView | null> =>
      (await balance("user", { userId: id }, instant))?.view ?? null,

    readAccountOfSession: async (sessionId: string, query: PageQuery, instant: Date) =>
      ofSession(await account("session", query, { sessionId }, instant)),

    readBalanceOfSession: async (sessionId: string, instant: Date) =>
      ofSession(await balance("session", { sessionId }, instant)),
  };
}

// The session and its user of a session read's row (fromSubject's "session" columns).
function ofSession<T>(read: { row: object; view: T } | null): OfSession<T> | null {
  if (!read) return null;
  const { session, user } = read.row as FoundSession;
  return { session, user, view: read.view };
}

function accountQuery(query: PageQuery, subject: Subject) {
  const variant: PageVariant = {
    kinds: query.kinds !== undefined,
    from: query.from !== undefined,
    to: query.to !== undefined,
    after: query.after !== undefined,
    desc: query.order === "desc",
  };
  const key = `${subject}:${JSON.stringify(variant)}`;
  let built = accountQueries.get(key);
  if (!built) {
    built = accountQueryOf(variant, subject);
    accountQueries.set(key, built);
  }
  return built;
}

// JSON columns as PostgreSQL builds them: snake_case keys, bigints as numbers, instants as epoch
// milliseconds (epochMs).
interface GrantJson {
  id: string;
  category: AccountGrant["category"];
  priority: number;
  remaining: number | string;
  expires_ms: number | null;
  created_ms: number;
}

interface EntryJson {
  id: string;
  seq: number | string;
  amount: number | string;
  balance_after: number | string;
  kind: AccountEntry["kind"];
  reason: string | null;
  payment_id: string | null;
  hold_id: string | null;
  created_ms: number;
  allocations: GrantAllocation[] | null;
}

// Both drivers parse json columns; a driver that hands one back raw gets it parsed here.
function parsed<T>(value: T[] | string | null): T[] {
  if (value === null) return [];
  return typeof value === "string" ? (JSON.parse(value) as T[]) : value;
}

function parsedOne<T extends object>(value: T | string): T {
  return typeof value === "string" ? (JSON.parse(value) as T) : value;
}

const dateOrNull = (value: number | null) => (value === null ? null : new Date(value));

const toGrant = (row: GrantJson): AccountGrant => ({
  id: row.id,
  category: row.category,
  priority: row.priority,
  remaining: Number(row.remaining),
  expiresAt: dateOrNull(row.expires_ms),
  createdAt: new Date(row.created_ms),
});

const toEntry = (row: EntryJson): AccountEntry => ({
  id: row.id,
  seq: Number(row.seq),
  amount: Number(row.amount),
  balanceAfter: Number(row.balance_after),
  kind: row.kind,
  reason: row.reason,
  paymentId: row.payment_id,
  holdId: row.hold_id,
  createdAt: new Date(row.created_ms),
  allocations: row.allocations ?? [],
});
