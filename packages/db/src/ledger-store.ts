import {
  createBatcher,
  isUuid,
  type LedgerEntry,
  type LedgerQuery,
  type LedgerStore,
  type Posting,
  RetryableStoreError,
  StoreUnavailableError,
} from "@credits/core";
import { ledgerBatchSize, recordLedgerPosting, withSpan } from "@credits/observability";
import { and, asc, desc, eq, gt, gte, lt, sql } from "drizzle-orm";
import { accountReads } from "./account-read.ts";
import { type Database, rowsOf } from "./client.ts";
import { isUniqueViolation, translated, translatingErrors } from "./errors.ts";
import { balanceQuery, entryColumns, grantReads } from "./grant-store.ts";
import { holdMethods } from "./hold-store.ts";
import { type BatchRow, fromBatchRow } from "./ledger-rows.ts";
import { prepared } from "./prepared.ts";
import { creditTransactions } from "./schema.ts";

const KEY_CONSTRAINT = "credit_transactions_idempotency_key_unique";

// Group commit (ADR 006): a standalone posting runs at once on an idle lane; those that arrive
// while every lane is busy go together in a lane's next statement. Lanes bound the connections
// postings hold at once (the rest of the pool stays free for reads); a user's postings in flight
// share a lane, so they never wait on each other's row lock from two statements of this process.
const POSTING_LANES = 4;
const MAX_BATCH = 64;

// One prepared query per combination of filters a history read uses.
type EntriesVariant = { kinds: boolean; from: boolean; to: boolean; after: boolean; desc: boolean };
const entriesQueries = new Map<string, ReturnType<typeof entriesQueryOf>>();
const entriesQueryOf = (v: EntriesVariant) =>
  prepared((db) => {
    const t = creditTransactions;
    return db
      .select(entryColumns)
      .from(t)
      .where(
        and(
          eq(t.userId, sql.placeholder("userId")),
          v.kinds ? sql`${t.kind} = ANY(${sql.placeholder("kinds")}::credit_transaction_kind[])` : undefined,
          v.from ? gte(t.createdAt, sql.placeholder("from")) : undefined,
          v.to ? lt(t.createdAt, sql.placeholder("to")) : undefined,
          v.after ? (v.desc ? lt(t.seq, sql.placeholder("after")) : gt(t.seq, sql.placeholder("after"))) : undefined,
        ),
      )
      .orderBy(v.desc ? desc(t.seq) : asc(t.seq))
      .limit(sql.placeholder("limit"))
      .prepare("ledger_entries");
  });
function entriesQuery(variant: EntriesVariant) {
  const key = JSON.stringify(variant);
  let query = entriesQueries.get(key);
  if (!query) {
    query = entriesQueryOf(variant);
    entriesQueries.set(key, query);
  }
  return query;
}

export function createLedgerStore(db: Database, inTransaction = false): LedgerStore {
  const reads = accountReads(db);
  // Outside a transaction the caller answers a lost key race from the winner's row. Inside one,
  // the failed statement has aborted the transaction: it must run again from the start, and will
  // then find the winner's row.
  const keyConflictsRetried = <T>(run: () => Promise<T>) =>
    translated(async () => {
      try {
        return await run();
      } catch (error) {
        if (inTransaction && isUniqueViolation(error, KEY_CONSTRAINT)) throw new RetryableStoreError(error);
        throw error;
      }
    });

  const postSingle = (posting: Posting) =>
    keyConflictsRetried(async () => {
      const row = (await postAll(db, [posting])).get(0);
      return row ? fromBatchRow(posting, row) : null;
    });

  const batched = createBatcher<Posting, LedgerEntry | null>({
    lanes: POSTING_LANES,
    maxBatch: MAX_BATCH,
    // One spelling per user (a uuid in upper case is the same row): a user's postings share a lane.
    keyOf: (posting) => posting.userId.toLowerCase(),
    runOne: postSingle,
    runMany: (postings) => postBatch(db, postings, postSingle),
    onBatch: (size) => ledgerBatchSize.observe(size),
  });
  // The batch statement covers the plain case: a posting outside a transaction, never below
  // zero, tied to no payment, hold or admin action (credits.spend and credits.grant).
  const standalone = (posting: Posting) =>
    !inTransaction && !posting.allowNegative && !posting.paymentId && !posting.holdId && !posting.adminActionId;

  const store: LedgerStore = {
    transaction: (work) =>
      inTransaction ? work(store) : translated(() => db.transaction((tx) => work(createLedgerStore(tx, true)))),

    post: (posting: Posting) =>
      withSpan("ledger.post", { "app.ledger.kind": posting.kind, "app.credits": posting.amount }, async (span) => {
        const entry = await (standalone(posting) ? batched(posting) : postSingle(posting));
        span.setAttribute("app.ledger.posted", entry !== null);
        // Counted when the row is written. A transaction rolled back after this (rare: a retried
        // deadlock) over-counts by that posting; the ledger itself stays exact.
        if (entry) recordLedgerPosting(entry.kind, entry.amount);
        return entry;
      }),

    findEntryByKey: async (key) => {
      const [row] = await db
        .select(entryColumns)
        .from(creditTransactions)
        .where(eq(creditTransactions.idempotencyKey, key));
      return row ?? null;
    },

    isKeyConflict: (error) => isUniqueViolation(error, KEY_CONSTRAINT),

    getBalance: async (userId, at) => {
      if (!isUuid(userId)) return null;
      const [row] = await balanceQuery(db, userId, at);
      return row ? Number(row.balance) : null;
    },

    lockBalance: async (userId, at) => {
      if (!isUuid(userId)) return null;
      const [row] = await balanceQuery(db, userId, at).for("no key update");
      return row ? Number(row.balance) : null;
    },

    readAccount: (query, at) => (isUuid(query.userId) ? reads.readAccount(query, at) : Promise.resolve(null)),

    readBalance: (userId, at) => (isUuid(userId) ? reads.readBalance(userId, at) : Promise.resolve(null)),

    readAccountOfSession: reads.readAccountOfSession,

    readBalanceOfSession: reads.readBalanceOfSession,

    listEntries: (query: LedgerQuery) => {
      const variant = {
        kinds: query.kinds !== undefined,
        from: query.from !== undefined,
        to: query.to !== undefined,
        after: query.after !== undefined,
        desc: query.order === "desc",
      };
      return entriesQuery(variant)(db).execute({
        userId: query.userId,
        // An array literal: PGlite does not turn a JS array parameter into one. Kinds are enum
        // labels (letters and underscores), so nothing needs quoting.
        kinds: query.kinds ? `{${query.kinds.join(",")}}` : undefined,
        from: query.from?.toISOString(),
        to: query.to?.toISOString(),
        after: query.after?.seq,
        limit: query.limit,
      });
    },

    ...holdMethods(db),

    ...grantReads(db),
  };
  return translatingErrors(store);
}

// Postings in one statement, post_ledger (its newest definition: drizzle/0027), for one posting as
// for a group-commit batch: the balance, the grants it moves and its ledger row, atomically and in
// one round trip. A posting without a row was not applied: unknown user, too little credit, or
// its key (or legacy key) already in the ledger.
async function postAll(db: Database, postings: Posting[]): Promise<Map<number, BatchRow>> {
  const payload = postings.map((p, ord) => ({
    ord,
    user_id: p.userId,
    amount: p.amount,
    kind: p.kind,
    idempotency_key: p.idempotencyKey,
    legacy_key: p.legacyKey ?? null,
    reason: p.reason ?? null,
    payment_id: p.paymentId ?? null,
    hold_id: p.holdId ?? null,
    admin_action_id: p.adminActionId ?? null,
    allow_negative: p.allowNegative ?? false,
    posted_at: p.at?.toISOString() ?? null,
    grant_category: p.grant?.category ?? null,
    grant_priority: p.grant?.priority ?? null,
    grant_expires_at: p.grant?.expiresAt?.toISOString() ?? null,
  }));
  const result = await db.execute(sql`SELECT * FROM post_ledger(${JSON.stringify(payload)}::jsonb)`);
  return new Map(rowsOf<BatchRow>(result).map((row) => [Number(row.ord), row]));
}

// A group-commit batch (ADR 006): one statement for all, or each alone when that one failed.
async function postBatch(
  db: Database,
  postings: Posting[],
  postSingle: (posting: Posting) => Promise<LedgerEntry | null>,
): Promise<PromiseSettledResult<LedgerEntry | null>[]> {
  let applied: Map<number, BatchRow>;
  try {
    applied = await translated(() => postAll(db, postings));
  } catch (error) {
    // A deadlock is retried posting by posting; an unreachable database fails them all at once.
    if (error instanceof RetryableStoreError || error instanceof StoreUnavailableError) throw error;
    // One statement: nothing of the batch was applied. Each posting runs alone, in arrival
    // order, so that only a posting that fails alone fails.
    const outcomes: PromiseSettledResult<LedgerEntry | null>[] = [];
    for (const posting of postings) {
      outcomes.push(
        await postSingle(posting).then(
          (value) => ({ status: "fulfilled", value }) as const,
          (reason: unknown) => ({ status: "rejected", reason }) as const,
        ),
      );
    }
    return outcomes;
  }
  return postings.map((posting, ord) => {
    const row = applied.get(ord);
    return { status: "fulfilled", value: row ? fromBatchRow(posting, row) : null };
  });
}
