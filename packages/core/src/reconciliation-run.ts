import type { FindingKind, ReconciliationStats, ReconciliationTrigger } from "./reconciliation-store.ts";
import { findingKinds } from "./reconciliation-store.ts";

// What a reconciliation run is given, reports as it goes, and is bounded by.

// Sessions and charges are compared a page at a time: one query per batch on our side.
export const RECONCILE_BATCH_SIZE = 100;
// Past this many findings of the provider and payment steps a run stops storing rows (the stats
// still count them): a run that finds everything wrong says so without writing a row per payment.
export const MAX_FINDINGS_PER_RUN = 10_000;
// Users in ledger violation listed per run, apart from the cap above (the steps before cannot
// crowd them out); the rest are counted, stay flagged and are listed first by the next runs.
export const MAX_INVARIANT_FINDINGS = 1_000;
// Credited payments the listing did not show are asked about one by one, up to this many.
export const MAX_SESSION_LOOKUPS = 200;

// The daily run checks the users with postings since the last checkpoint; a weekly pass checks
// everyone (an inconsistency planted where nothing posted since).
export const FULL_LEDGER_PASS_EVERY_MS = 7 * 86_400_000;

export type ReconcilePhase = "sessions" | "charges" | "payments" | "ledger";
export const reconcilePhases: readonly ReconcilePhase[] = ["sessions", "charges", "payments", "ledger"];

export interface ReconcileProgress {
  runId: string;
  phase: ReconcilePhase;
  // 1-based position of the phase among reconcilePhases.
  step: number;
  steps: number;
  sessionsSeen: number;
  chargesSeen: number;
  paymentsChecked: number;
  findings: number;
  healed: number;
}

export interface ReconcileOptions {
  trigger: ReconciliationTrigger;
  // Window of provider objects (by creation time); default the last windowDays up to now.
  since?: Date;
  until?: Date;
  // The UTC day (YYYY-MM-DD) a scheduled run is for: the claim that makes it happen once.
  scheduledFor?: string;
  onProgress?: (progress: ReconcileProgress) => void;
  // The ledger invariant step over every user, not only those with postings since the last
  // checkpoint (a full pass also runs by itself once FULL_LEDGER_PASS_EVERY_MS has passed).
  fullLedger?: boolean;
  // Users in ledger violation listed by this run (default MAX_INVARIANT_FINDINGS; tests lower it).
  maxLedgerFindings?: number;
  // Stops the run between batches (shutdown); it is then recorded as failed.
  signal?: AbortSignal;
}

export function emptyStats(): ReconciliationStats {
  return {
    sessionsSeen: 0,
    sessionsForeign: 0,
    chargesSeen: 0,
    chargesUnmatched: 0,
    intentsSeen: 0,
    paymentsChecked: 0,
    usersChecked: 0,
    findings: zeroByKind(),
    healed: 0,
    healedByKind: zeroByKind(),
    healedElsewhere: 0,
    findingsTruncated: false,
    durationMs: 0,
  };
}

function zeroByKind(): Record<FindingKind, number> {
  return Object.fromEntries(findingKinds.map((kind) => [kind, 0])) as Record<FindingKind, number>;
}

export function progressOf(runId: string, phase: ReconcilePhase, stats: ReconciliationStats): ReconcileProgress {
  return {
    runId,
    phase,
    step: reconcilePhases.indexOf(phase) + 1,
    steps: reconcilePhases.length,
    sessionsSeen: stats.sessionsSeen,
    chargesSeen: stats.chargesSeen,
    paymentsChecked: stats.paymentsChecked,
    findings: findingKinds.reduce((sum, kind) => sum + stats.findings[kind], 0),
    healed: stats.healed,
  };
}
