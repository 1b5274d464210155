import type { TimeCursor } from "./cursor.ts";
import type { Payment } from "./payments/store.ts";

// The port reconciliation needs from storage: its own runs and findings, and read-only views of
// our payments to compare with the provider's. Implemented in packages/db.

export const reconciliationTriggers = ["schedule", "manual", "cli"] as const;
export type ReconciliationTrigger = (typeof reconciliationTriggers)[number];

export const findingKinds = [
  // Paid at the provider, not credited here (healed through the one fulfil function).
  "missing_credit",
  // Credited here, but the provider's session is unpaid or unknown (a person decides).
  "unexpected_credit",
  // The provider refunded more than we recorded (healed through the charge.refunded path).
  "refund_not_clawed_back",
  // The provider refunded less than we recorded: a refund failed after it was counted and all its
  // events were lost (healed through the refund failure path, ADR 016).
  "refund_failure_not_reversed",
  // A refund sent from the panel whose provider answer was never recorded (left processing),
  // settled from the provider's record of it, or closed as failed when the provider never made it.
  "refund_unanswered",
  // The provider's amount or currency differs from our payment (never credited; a person decides).
  "amount_mismatch",
  // A user's cached balance differs from the sum of their ledger, or is negative without a dispute.
  "ledger_invariant",
  // Paid after its checkout was canceled: credited and flagged for review (a person checks with the customer).
  "paid_after_cancel",
] as const;
export type FindingKind = (typeof findingKinds)[number];

export const reconciliationRunStatuses = ["running", "succeeded", "failed"] as const;
export type ReconciliationRunStatus = (typeof reconciliationRunStatuses)[number];

export interface ReconciliationStats {
  sessionsSeen: number;
  // Sessions that carry no payment id of ours (made elsewhere on the same provider account).
  sessionsForeign: number;
  chargesSeen: number;
  // Charges whose payment we could not find by payment intent or charge id.
  chargesUnmatched: number;
  // Off-session PaymentIntents (auto top-ups) listed; absent from runs made before they were.
  intentsSeen?: number;
  // Distinct payments of ours compared with the provider.
  paymentsChecked: number;
  usersChecked: number;
  // Every kind for a new run; a run stored before a kind existed has no count for it.
  findings: Record<FindingKind, number>;
  healed: number;
  healedByKind: Record<FindingKind, number>;
  // Drift seen that another fulfilment (a webhook, a concurrent run) healed first.
  healedElsewhere: number;
  // Set when more findings were found than a run stores; the counts above stay exact.
  findingsTruncated: boolean;
  durationMs: number;
  // The ledger step (ADR 012): every user, or only those with ledger rows after the previous
  // run's checkpoint and the flagged users; the checkpoint is the ledger seq this run checked through.
  ledgerPass?: LedgerPass;
  ledgerCheckpoint?: number;
  // Users in ledger violation this run found but did not list (past MAX_INVARIANT_FINDINGS): they
  // stay flagged, are checked again by the next run and listed first (findings.ledger_invariant
  // counts them; findingsTruncated is set). Absent from runs made before it was counted.
  ledgerUnlisted?: number;
  // Why a failed run failed.
  error?: string;
}

export type LedgerPass = "full" | "incremental";

export interface ReconciliationRun {
  id: string;
  trigger: ReconciliationTrigger;
  // The UTC day (YYYY-MM-DD) a scheduled run is for; null for manual and CLI runs.
  scheduledFor: string | null;
  windowStart: Date;
  windowEnd: Date;
  status: ReconciliationRunStatus;
  stats: ReconciliationStats | null;
  startedAt: Date;
  finishedAt: Date | null;
}

// An admin's acceptance of the break of a user's balance_after chain at one row (the ledger is
// append-only: the row cannot be corrected). The checks accept exactly this jump at exactly this
// row; any other break or drift of the user is still reported.
export interface LedgerBreakAcknowledgement {
  userId: string;
  seq: number;
  // The row's balance_after minus the previous row's (0 before the first) minus its amount.
  delta: number;
  actorId: string;
  reason: string;
  createdAt: Date;
}

// The first admin's acknowledgement of a break above what one admin may accept, waiting for a
// second admin (not the requester, not the user) to acknowledge it too.
export interface LedgerBreakRequest {
  userId: string;
  seq: number;
  delta: number;
  requestedBy: string;
  reason: string;
  createdAt: Date;
  // When a second admin accepted it; null while it waits.
  acceptedAt: Date | null;
}

// What acknowledging a break did: accepted it (a new acknowledgement, or the one that exists, with
// the request it came from if a second admin accepted it), or recorded (or found) the request a
// second admin must acknowledge too.
export type BreakAcknowledged =
  | { acknowledgement: LedgerBreakAcknowledgement; created: boolean; request: LedgerBreakRequest | null }
  | { request: LedgerBreakRequest; created: boolean };

// What one admin may accept alone: ADMIN_APPROVAL_THRESHOLD credits moved for a user within
// ADMIN_APPROVAL_WINDOW_HOURS, a break's jump counted with the adjustments and key grants (ADR 023).
export interface BreakApprovalRule {
  approvalThreshold: number;
  approvalWindowMs: number;
}

export interface NewFinding {
  kind: FindingKind;
  paymentId: string | null;
  userId: string | null;
  // The provider object the finding is about (session or charge id).
  providerRef: string | null;
  detail: Record<string, string | number | boolean | null>;
  healed: boolean;
}

export interface ReconciliationFinding extends NewFinding {
  id: string;
  runId: string;
  createdAt: Date;
}

export interface ReconciliationStore {
  // Inserts a running run. With scheduledFor set, null when a run for that day already exists:
  // the unique day is the claim that makes a scheduled run happen once across instances.
  insertRun(run: {
    trigger: ReconciliationTrigger;
    scheduledFor: string | null;
    windowStart: Date;
    windowEnd: Date;
    startedAt: Date;
  }): Promise<ReconciliationRun | null>;
  // Marks runs still `running` that started before `startedBefore` as failed (their process
  // stopped mid-run); returns how many.
  failAbandonedRuns(startedBefore: Date, finishedAt: Date): Promise<number>;
  // Stores findings; a ledger_invariant finding marks its user reported now (the flagged set's
  // reported_at), so the next runs list the others first.
  addFindings(runId: string, findings: NewFinding[]): Promise<void>;
  finishRun(
    id: string,
    result: { status: Exclude<ReconciliationRunStatus, "running">; stats: ReconciliationStats; finishedAt: Date },
  ): Promise<ReconciliationRun>;
  findRun(id: string): Promise<ReconciliationRun | null>;
  // Newest first, keyset-paged on (startedAt, id).
  listRuns(query: { limit: number; before?: TimeCursor }): Promise<ReconciliationRun[]>;
  // Oldest first, keyset-paged on (createdAt, id).
  listFindings(
    runId: string,
    query: { limit: number; after?: TimeCursor; kind?: FindingKind },
  ): Promise<ReconciliationFinding[]>;
  lastSuccessfulRun(): Promise<ReconciliationRun | null>;
  // The ledger checkpoint of the newest succeeded run that recorded one, and when the newest
  // succeeded full pass that wrote the flagged set started (null: none did, so the next pass is
  // full); null when no run recorded a checkpoint.
  lastLedgerCheckpoint(): Promise<{ seq: number; lastFullAt: Date | null } | null>;
  // Records the acknowledgement of the break at the user's ledger row `seq`, its delta read from
  // the ledger, with its audit row, in one transaction under the user's balance lock. One that
  // exists for the row is answered as it is, nothing written. One admin alone accepts it while the
  // jump, with what admins moved for the user alone within the window, stays within the threshold
  // (ledger_break.acknowledged, its amount the jump, counted by that window); beyond it the first
  // admin's is recorded as a request (ledger_break.requested; the same admin again is answered
  // it, and a request whose row's jump has changed since is replaced by this admin's), and another
  // admin's then accepts it (ledger_break.approved, naming the requester), except from the CLI
  // ("second_admin_signed_in"). "no_row": the user has no row with that seq; "no_break": the row
  // continues the one before it.
  acknowledgeBreak(
    ack: Pick<LedgerBreakAcknowledgement, "userId" | "seq" | "actorId" | "reason">,
    audit: { requestId: string | null; via: "api" | "cli" },
    rule: BreakApprovalRule,
  ): Promise<BreakAcknowledged | "no_row" | "no_break" | "second_admin_signed_in">;
  // The requests no second admin acknowledged yet, newest first.
  pendingBreakRequests(limit: number): Promise<LedgerBreakRequest[]>;
  // Our payments with these ids (ids that cannot be ours are simply not found).
  findPaymentsByIds(ids: string[]): Promise<Payment[]>;
  findPaymentsByProviderRefs(refs: { paymentIntentIds: string[]; chargeIds: string[] }): Promise<Payment[]>;
  // Credited payments of one provider created in the window and credited by `creditedBefore`,
  // oldest first, keyset-paged on (createdAt, id).
  listCreditedPayments(query: {
    provider: string;
    createdFrom: Date;
    createdTo: Date;
    creditedBefore: Date;
    after?: TimeCursor;
    limit: number;
  }): Promise<Payment[]>;
}
