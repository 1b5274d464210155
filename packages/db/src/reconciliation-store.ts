import type {
  FindingKind,
  Payment,
  ReconciliationFinding,
  ReconciliationRun,
  ReconciliationRunStatus,
  ReconciliationStats,
  ReconciliationStore,
  ReconciliationTrigger,
  TimeCursor,
} from "@credits/core";
import { isUuid } from "@credits/core";
import { and, asc, desc, eq, gt, gte, inArray, isNotNull, lt, lte, or, type SQL, sql } from "drizzle-orm";
import { type Database, rowsOf } from "./client.ts";
import { translatingErrors } from "./errors.ts";
import { acknowledgeBreak, pendingBreakRequests } from "./ledger-acknowledgements.ts";
import { ledgerFlaggedUsers, payments, reconciliationFindings, reconciliationRuns } from "./schema.ts";

// Ids from the provider are untrusted text: only those shaped like ours are looked up (a uuid
// column refuses anything else with an error).
// One statement's IN list; callers pass batches of about a page anyway.
const MAX_LOOKUP = 1_000;

type RunRow = typeof reconciliationRuns.$inferSelect;
type FindingRow = typeof reconciliationFindings.$inferSelect;

export function createReconciliationStore(db: Database): ReconciliationStore {
  return translatingErrors({
    ...runWrites(db),
    ...runReads(db),
    acknowledgeBreak: acknowledgeBreak(db),
    pendingBreakRequests: pendingBreakRequests(db),
    ...paymentLookups(db),
  });
}

// A run's lifecycle: started (one per scheduled day), its findings, finished or failed when abandoned.
function runWrites(
  db: Database,
): Pick<ReconciliationStore, "insertRun" | "failAbandonedRuns" | "addFindings" | "finishRun"> {
  return {
    insertRun: async (run) => {
      const [row] = await db
        .insert(reconciliationRuns)
        .values({ ...run, status: "running" })
        // Only scheduled runs carry a day; manual ones (scheduled_for NULL) never conflict.
        .onConflictDoNothing({ target: reconciliationRuns.scheduledFor })
        .returning();
      return row ? toRun(row) : null;
    },

    failAbandonedRuns: async (startedBefore, finishedAt) => {
      const t = reconciliationRuns;
      const failed = await db
        .update(t)
        .set({ status: "failed", finishedAt })
        .where(and(eq(t.status, "running"), lt(t.startedAt, startedBefore)))
        .returning({ id: t.id });
      return failed.length;
    },

    addFindings: async (runId, findings) => {
      if (findings.length === 0) return;
      const reported = findings.flatMap((f) => (f.kind === "ledger_invariant" && f.userId ? [f.userId] : []));
      await db.transaction(async (tx) => {
        await tx.insert(reconciliationFindings).values(findings.map((finding) => ({ ...finding, runId })));
        if (reported.length === 0) return;
        await tx
          .update(ledgerFlaggedUsers)
          .set({ reportedAt: sql`now()` })
          .where(inArray(ledgerFlaggedUsers.userId, reported));
      });
    },

    finishRun: async (id, { status, stats, finishedAt }) => {
      const [row] = await db
        .update(reconciliationRuns)
        .set({ status, stats, finishedAt })
        .where(eq(reconciliationRuns.id, id))
        .returning();
      if (!row) throw new Error(`reconciliation run ${id} not found`);
      return toRun(row);
    },
  };
}

// The runs and findings as the admin pages and the next run read them.
function runReads(
  db: Database,
): Pick<ReconciliationStore, "findRun" | "listRuns" | "listFindings" | "lastSuccessfulRun" | "lastLedgerCheckpoint"> {
  return {
    findRun: async (id) => {
      if (!isUuid(id)) return null;
      const [row] = await db.select().from(reconciliationRuns).where(eq(reconciliationRuns.id, id));
      return row ? toRun(row) : null;
    },

    listRuns: async ({ limit, before }) => {
      const t = reconciliationRuns;
      const rows = await db
        .select()
        .from(t)
        .where(
          before ? or(lt(t.startedAt, before.at), and(eq(t.startedAt, before.at), lt(t.id, before.id))) : undefined,
        )
        .orderBy(desc(t.startedAt), desc(t.id))
        .limit(limit);
      return rows.map(toRun);
    },

    listFindings: async (runId, { limit, after, kind }) => {
      if (!isUuid(runId)) return [];
      const t = reconciliationFindings;
      const rows = await db
        .select()
        .from(t)
        .where(
          and(
            eq(t.runId, runId),
            kind ? eq(t.kind, kind) : undefined,
            after ? keysetAfter(t.createdAt, t.id, after) : undefined,
          ),
        )
        .orderBy(asc(t.createdAt), asc(t.id))
        .limit(limit);
      return rows.map(toFinding);
    },

    lastSuccessfulRun: async () => {
      const t = reconciliationRuns;
      const [row] = await db
        .select()
        .from(t)
        .where(eq(t.status, "succeeded"))
        .orderBy(desc(t.finishedAt), desc(t.id))
        .limit(1);
      return row ? toRun(row) : null;
    },

    // Only a full pass that wrote the flagged set counts (its stats carry ledgerUnlisted, which came
    // with the set, migration 0037): 0037 seeded the set from stored findings only, so a violator
    // lost past the old findings cap before it is found by the first full pass after it, which is
    // the first run after the upgrade (review11 F4), not up to a week later.
    lastLedgerCheckpoint: async () => {
      const [row] = rowsOf<{ seq: string | number | null; last_full_at: string | Date | null }>(
        await db.execute(sql`
          SELECT (SELECT (stats->>'ledgerCheckpoint')::bigint FROM reconciliation_runs
                   WHERE status = 'succeeded' AND stats ? 'ledgerCheckpoint'
                   ORDER BY created_at DESC, id DESC LIMIT 1) AS seq,
                 (SELECT max(created_at) FROM reconciliation_runs
                   WHERE status = 'succeeded' AND stats->>'ledgerPass' = 'full' AND stats ? 'ledgerUnlisted')
                   AS last_full_at`),
      );
      if (!row || row.seq === null) return null;
      return { seq: Number(row.seq), lastFullAt: row.last_full_at === null ? null : new Date(row.last_full_at) };
    },
  };
}

// The payments a run compares with the provider's records.
function paymentLookups(
  db: Database,
): Pick<ReconciliationStore, "findPaymentsByIds" | "findPaymentsByProviderRefs" | "listCreditedPayments"> {
  return {
    findPaymentsByIds: async (ids) => {
      const wanted = ids.filter((id) => isUuid(id)).slice(0, MAX_LOOKUP);
      if (wanted.length === 0) return [];
      return db.select().from(payments).where(inArray(payments.id, wanted));
    },

    findPaymentsByProviderRefs: async ({ paymentIntentIds, chargeIds }) => {
      const condition = or(
        paymentIntentIds.length
          ? inArray(payments.providerPaymentIntentId, paymentIntentIds.slice(0, MAX_LOOKUP))
          : undefined,
        chargeIds.length ? inArray(payments.providerChargeId, chargeIds.slice(0, MAX_LOOKUP)) : undefined,
      );
      if (!condition) return [];
      return db.select().from(payments).where(condition);
    },

    listCreditedPayments: async (query): Promise<Payment[]> => {
      const t = payments;
      return db
        .select()
        .from(t)
        .where(
          and(
            eq(t.provider, query.provider),
            gte(t.createdAt, query.createdFrom),
            lte(t.createdAt, query.createdTo),
            isNotNull(t.creditedAt),
            lte(t.creditedAt, query.creditedBefore),
            query.after ? keysetAfter(t.createdAt, t.id, query.after) : undefined,
          ),
        )
        .orderBy(asc(t.createdAt), asc(t.id))
        .limit(query.limit);
    },
  };
}

function keysetAfter(
  at: typeof payments.createdAt | typeof reconciliationFindings.createdAt,
  id: typeof payments.id | typeof reconciliationFindings.id,
  cursor: TimeCursor,
): SQL | undefined {
  return or(gt(at, cursor.at), and(eq(at, cursor.at), gt(id, cursor.id)));
}

function toRun(row: RunRow): ReconciliationRun {
  return {
    id: row.id,
    trigger: row.trigger as ReconciliationTrigger,
    scheduledFor: row.scheduledFor,
    windowStart: row.windowStart,
    windowEnd: row.windowEnd,
    status: row.status as ReconciliationRunStatus,
    stats: (row.stats as ReconciliationStats | null) ?? null,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}

function toFinding(row: FindingRow): ReconciliationFinding {
  return {
    id: row.id,
    runId: row.runId,
    kind: row.kind as FindingKind,
    paymentId: row.paymentId,
    userId: row.userId,
    providerRef: row.providerRef,
    detail: (row.detail as ReconciliationFinding["detail"] | null) ?? {},
    healed: row.healed,
    createdAt: row.createdAt,
  };
}
