import { type Clock, systemClock } from "./clock.ts";
import type { CreditService } from "./credits.ts";
import { decodeTimeCursor, encodeTimeCursor } from "./cursor.ts";
import { ForbiddenError, InvalidInputError, InvalidStateError, NotFoundError } from "./errors.ts";
import type { ListWindow, PaymentProvider } from "./payments/provider.ts";
import { type PassDeps, ReconciliationPass } from "./reconciliation-pass.ts";
import type { ReconcileOptions } from "./reconciliation-run.ts";
import {
  type BreakApprovalRule,
  type FindingKind,
  findingKinds,
  type LedgerBreakAcknowledgement,
  type LedgerBreakRequest,
  type ReconciliationFinding,
  type ReconciliationRun,
  type ReconciliationStore,
} from "./reconciliation-store.ts";
import { assertReason, isUuid, pageLimit, sameId } from "./validate.ts";

export {
  emptyStats,
  FULL_LEDGER_PASS_EVERY_MS,
  MAX_FINDINGS_PER_RUN,
  MAX_INVARIANT_FINDINGS,
  MAX_SESSION_LOOKUPS,
  RECONCILE_BATCH_SIZE,
  type ReconcileOptions,
  type ReconcilePhase,
  type ReconcileProgress,
  reconcilePhases,
} from "./reconciliation-run.ts";
export * from "./reconciliation-store.ts";

// Daily reconciliation: compares the provider's checkout sessions and charges for a window with
// our payments, heals what a lost webhook left behind (through the same functions the webhook
// uses, so healing twice, or racing a webhook or another run, credits at most once), and records
// everything else as findings for a person. Every run leaves a row, succeeded or failed.

export const DEFAULT_RECONCILE_WINDOW_DAYS = 3;
// The provider's listing is bounded too (MAX_LISTED_OBJECTS); a month is the widest window a run
// may ask for.
export const MAX_RECONCILE_WINDOW_DAYS = 31;
const DAY_MS = 86_400_000;
// A run takes seconds (1,000 payments in ~0.2 s); one still `running` after an hour died with its
// process (a crash, a kill) and would otherwise show as running for ever.
const ABANDONED_AFTER_MS = 3_600_000;

export type ReconciliationService = ReturnType<typeof createReconciliationService>;

export function createReconciliationService(deps: {
  store: ReconciliationStore;
  credits: Pick<CreditService, "checkInvariants" | "ledgerWatermark">;
  payments: PassDeps["payments"];
  refunds: PassDeps["refunds"];
  provider: PaymentProvider;
  clock?: Clock;
  windowDays?: number;
  // ADMIN_APPROVAL_THRESHOLD: the most credits one admin may move for a user alone within
  // ADMIN_APPROVAL_WINDOW_HOURS (adjustments, key grants and accepted breaks' jumps together).
  approval: BreakApprovalRule;
}) {
  const { store } = deps;
  const clock = deps.clock ?? systemClock;
  const windowDays = deps.windowDays ?? DEFAULT_RECONCILE_WINDOW_DAYS;
  if (!Number.isInteger(windowDays) || windowDays < 1 || windowDays > MAX_RECONCILE_WINDOW_DAYS) {
    throw new Error(`windowDays must be from 1 to ${MAX_RECONCILE_WINDOW_DAYS}`);
  }

  function windowFor(options: ReconcileOptions): ListWindow {
    const createdTo = options.until ?? clock.now();
    const createdFrom = options.since ?? new Date(createdTo.getTime() - windowDays * DAY_MS);
    if (Number.isNaN(createdFrom.getTime()) || Number.isNaN(createdTo.getTime())) {
      throw new InvalidInputError("since and until must be valid dates");
    }
    if (createdFrom >= createdTo) throw new InvalidInputError("since must be before until");
    if (createdTo.getTime() - createdFrom.getTime() > MAX_RECONCILE_WINDOW_DAYS * DAY_MS) {
      throw new InvalidInputError(`the window may span at most ${MAX_RECONCILE_WINDOW_DAYS} days`);
    }
    return { createdFrom, createdTo };
  }

  // Runs one reconciliation. Null when options.scheduledFor names a day another run (on this or
  // another instance) has already claimed. A failed run is recorded as failed, then rethrown.
  async function run(options: ReconcileOptions): Promise<ReconciliationRun | null> {
    if (options.scheduledFor !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(options.scheduledFor)) {
      throw new InvalidInputError("scheduledFor must be a day, YYYY-MM-DD");
    }
    const window = windowFor(options);
    const startedAt = clock.now();
    await store.failAbandonedRuns(new Date(startedAt.getTime() - ABANDONED_AFTER_MS), startedAt);
    const claimed = await store.insertRun({
      trigger: options.trigger,
      scheduledFor: options.scheduledFor ?? null,
      windowStart: window.createdFrom,
      windowEnd: window.createdTo,
      startedAt,
    });
    if (!claimed) return null;
    const pass = new ReconciliationPass({ ...deps, clock }, claimed.id, window, options);
    try {
      await pass.execute();
      return await store.finishRun(claimed.id, {
        status: "succeeded",
        stats: pass.finalStats(startedAt),
        finishedAt: clock.now(),
      });
    } catch (error) {
      await pass.flush().catch(() => {});
      const stats = { ...pass.finalStats(startedAt), error: errorMessage(error) };
      await store.finishRun(claimed.id, { status: "failed", stats, finishedAt: clock.now() });
      throw error;
    }
  }

  async function listRuns(options: { limit?: number; cursor?: string } = {}): Promise<{
    runs: ReconciliationRun[];
    nextCursor: string | null;
  }> {
    const limit = pageLimit(options.limit);
    const rows = await store.listRuns({
      limit: limit + 1,
      ...(options.cursor ? { before: decodeTimeCursor(options.cursor) } : {}),
    });
    const runs = rows.slice(0, limit);
    const last = runs.at(-1);
    return {
      runs,
      nextCursor: rows.length > limit && last ? encodeTimeCursor({ at: last.startedAt, id: last.id }) : null,
    };
  }

  async function getRun(
    id: string,
    options: { limit?: number; cursor?: string; kind?: FindingKind } = {},
  ): Promise<{ run: ReconciliationRun; findings: ReconciliationFinding[]; nextCursor: string | null }> {
    const limit = pageLimit(options.limit);
    if (options.kind !== undefined && !findingKinds.includes(options.kind)) {
      throw new InvalidInputError(`kind must be one of ${findingKinds.join(", ")}`);
    }
    const run = await store.findRun(id);
    if (!run) throw new NotFoundError("reconciliation run");
    const rows = await store.listFindings(id, {
      limit: limit + 1,
      ...(options.cursor ? { after: decodeTimeCursor(options.cursor) } : {}),
      ...(options.kind ? { kind: options.kind } : {}),
    });
    const findings = rows.slice(0, limit);
    const last = findings.at(-1);
    return {
      run,
      findings,
      nextCursor: rows.length > limit && last ? encodeTimeCursor({ at: last.createdAt, id: last.id }) : null,
    };
  }

  return {
    run,
    listRuns,
    getRun,
    acknowledgeBreak: (input: BreakAcknowledgementInput) => acknowledgeBreak(store, input, deps.approval),
    // Breaks one admin acknowledged that wait for a second, newest first.
    pendingBreakRequests: (limit: number) => store.pendingBreakRequests(limit),
    lastSuccessfulRun: () => store.lastSuccessfulRun(),
    windowDays,
  };
}

export interface BreakAcknowledgementInput {
  actorId: string;
  userId: string;
  seq: number;
  reason: string;
  requestId: string | null;
  via: "api" | "cli";
}

// An admin accepts the break of a user's balance_after chain at the row `seq` (a finding's
// chainBrokenAtSeq): the ledger is append-only, so without this the user is reported, and read
// from their first row, every day for ever. From then on the checks accept exactly that row's jump
// and still report any other break or drift of the user. Audited; acknowledging the same row again
// answers the first acknowledgement and writes nothing. The caller is an admin (the API's admin
// procedure, the CLI's --admin).
// Accepting a jump is accepting credits no ledger row accounts for (or their loss), so the rules
// of a credit adjustment hold (ADR 012, ADR 023): never on one's own ledger, and one admin alone
// only up to the approval threshold, counted with what admins moved for the user alone within the
// window; beyond it a second admin (not the first, not the user, signed in: the CLI only sends it)
// must acknowledge it too, and until then it stays reported. A repeat of an accepted break by
// another admin or with another reason (but its requester's own) is a conflict; the requester's
// repeat with another reason too.
async function acknowledgeBreak(
  store: ReconciliationStore,
  input: BreakAcknowledgementInput,
  approval: BreakApprovalRule,
): Promise<BreakAcknowledgement> {
  const { actorId, userId, seq, reason, requestId, via } = input;
  if (!isUuid(userId)) throw new NotFoundError("user");
  if (!Number.isSafeInteger(seq) || seq < 1) throw new InvalidInputError("seq must be a ledger row's seq");
  assertReason(reason, { required: true });
  if (sameId(actorId, userId)) {
    throw new ForbiddenError("an admin cannot acknowledge a break of their own ledger: another admin must");
  }
  const ack = { userId, seq, actorId, reason: reason.trim() };
  const result = await store.acknowledgeBreak(ack, { requestId, via }, approval);
  if (result === "no_row") throw new NotFoundError("ledger row of this user with this seq");
  if (result === "no_break") {
    throw new InvalidStateError("this ledger row continues the one before it: there is no break to acknowledge");
  }
  if (result === "second_admin_signed_in") {
    throw new ForbiddenError(
      "another admin sent this break for a second admin: accept it signed in, in the admin pages (the CLI only sends breaks)",
    );
  }
  if (!("acknowledgement" in result)) {
    if (!result.created && result.request.reason !== ack.reason) throw alreadyAcknowledged();
    return { acknowledgement: asAcknowledgement(result.request), created: result.created, awaitingSecondAdmin: true };
  }
  const { acknowledgement: first, request } = result;
  const same = (who: string, why: string) => who === ack.actorId && why === ack.reason;
  if (
    !result.created &&
    !same(first.actorId, first.reason) &&
    !(request && same(request.requestedBy, request.reason))
  ) {
    throw alreadyAcknowledged();
  }
  return { acknowledgement: first, created: result.created, awaitingSecondAdmin: false };
}

const alreadyAcknowledged = () =>
  new InvalidStateError("this break was already acknowledged by another request (another admin or reason)");

// What acknowledging a break answers: the acknowledgement, or the first admin's request while it
// awaits a second admin (its actor the requester).
export interface BreakAcknowledgement {
  acknowledgement: LedgerBreakAcknowledgement;
  created: boolean;
  awaitingSecondAdmin: boolean;
}

const asAcknowledgement = (r: LedgerBreakRequest): LedgerBreakAcknowledgement => ({
  userId: r.userId,
  seq: r.seq,
  delta: r.delta,
  actorId: r.requestedBy,
  reason: r.reason,
  createdAt: r.createdAt,
});

function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.slice(0, 500);
}
