import type { Clock } from "./clock.ts";
import type { CreditService } from "./credits.ts";
import type { TimeCursor } from "./cursor.ts";
import type { InvariantViolation } from "./ledger.ts";
import { paidAmountProblem } from "./payments/payment-facts.ts";
import type { PaymentService } from "./payments/payments.ts";
import {
  type ChargeInfo,
  type CheckoutSessionInfo,
  type ListWindow,
  type PaymentIntentInfo,
  type PaymentProvider,
  sessionSettled,
} from "./payments/provider.ts";
import type { RefundService } from "./payments/refunds.ts";
import type { Payment } from "./payments/store.ts";
import { afterCancel, amountDiffers, amounts, batches, byId, lookUpSession, unique } from "./reconciliation-helpers.ts";
import { reconcileIntents } from "./reconciliation-intents.ts";
import { reconcileRefunds, reconcileUnanswered } from "./reconciliation-refunds.ts";
import {
  emptyStats,
  FULL_LEDGER_PASS_EVERY_MS,
  MAX_FINDINGS_PER_RUN,
  MAX_INVARIANT_FINDINGS,
  MAX_SESSION_LOOKUPS,
  progressOf,
  RECONCILE_BATCH_SIZE,
  type ReconcileOptions,
  type ReconcilePhase,
} from "./reconciliation-run.ts";
import type { NewFinding, ReconciliationStats, ReconciliationStore } from "./reconciliation-store.ts";

// One reconciliation run's comparison: the provider's sessions, charges and off-session
// PaymentIntents (auto top-ups, reconciliation-intents.ts) against our payments,
// batch by batch, then our credited payments the provider did not list, then the ledger. Heals go
// through the payment service's own functions (fulfil, refund), which lock the payment and act at
// most once, so a webhook or another run racing this one changes nothing twice.

export interface PassDeps {
  store: ReconciliationStore;
  credits: Pick<CreditService, "checkInvariants" | "ledgerWatermark">;
  payments: Pick<
    PaymentService,
    "fulfilFromProvider" | "applyIntentFromProvider" | "applyRefundFromProvider" | "applyRefundFailuresFromProvider"
  >;
  refunds: Pick<RefundService, "unansweredRefunds" | "settleFromProvider">;
  provider: PaymentProvider;
  clock: Clock;
}

// One run's working state: counters, the findings waiting to be written, what was seen.
export class ReconciliationPass {
  readonly stats: ReconciliationStats = emptyStats();
  private readonly pending: NewFinding[] = [];
  private stored = 0;
  private readonly checked = new Set<string>();
  // Payments whose session (or auto top-up's succeeded PaymentIntent) the provider listed; those found mismatched.
  private readonly sessionSeenFor = new Set<string>();
  private readonly mismatched = new Set<string>();
  private readonly runId: string;
  private readonly window: ListWindow;
  private readonly options: ReconcileOptions;
  // Recorded on the payment's transitions and in the ledger keys of what a heal posts.
  private readonly source: string;
  private readonly deps: PassDeps;

  constructor(deps: PassDeps, runId: string, window: ListWindow, options: ReconcileOptions) {
    this.deps = deps;
    this.runId = runId;
    this.window = window;
    this.options = options;
    this.source = `reconciliation:${runId}`;
  }

  async execute(): Promise<void> {
    this.progress("sessions");
    for await (const batch of batches(this.deps.provider.listCheckoutSessions(this.window), RECONCILE_BATCH_SIZE)) {
      await this.sessions(batch);
    }
    this.progress("charges");
    for await (const batch of batches(this.deps.provider.listCharges(this.window), RECONCILE_BATCH_SIZE)) {
      await this.charges(batch);
    }
    const intents = this.deps.provider.listOffSessionPaymentIntents(this.window);
    for await (const batch of batches(intents, RECONCILE_BATCH_SIZE)) await this.intents(batch);
    await reconcileUnanswered(this.refundPass());
    await this.flush();
    this.progress("payments");
    await this.creditedPayments();
    this.progress("ledger");
    await this.ledger();
    await this.flush();
  }

  private async sessions(sessions: CheckoutSessionInfo[]): Promise<void> {
    this.checkAborted();
    this.stats.sessionsSeen += sessions.length;
    const ours = sessions.filter((session) => session.paymentId !== null);
    this.stats.sessionsForeign += sessions.length - ours.length;
    const payments = byId(await this.deps.store.findPaymentsByIds(unique(ours.map((s) => s.paymentId as string))));
    for (const session of ours) {
      const payment = payments.get(session.paymentId as string);
      // Not the session this payment went through: the payment's own session decides.
      if (payment?.providerSessionId && payment.providerSessionId !== session.id) continue;
      if (payment) {
        this.check(payment);
        this.sessionSeenFor.add(payment.id);
        await this.compareSession(session, payment);
      } else if (sessionSettled(session)) {
        // Money taken for a payment id we do not have: nothing to credit, so a person looks.
        this.find({
          kind: "missing_credit",
          paymentId: null,
          userId: null,
          providerRef: session.id,
          detail: {
            reason: "no payment here with this id",
            claimedPaymentId: session.paymentId,
            ...amounts(session),
          },
          healed: false,
        });
      }
    }
    await this.flush();
    this.progress("sessions");
  }

  private async compareSession(session: CheckoutSessionInfo, payment: Payment): Promise<void> {
    const paid = sessionSettled(session);
    if (paidAmountProblem(payment, session)) {
      // The fulfil function refuses a mismatched session and flags the payment for review: the
      // same outcome as if the webhook had brought it.
      if (paid && !payment.creditedAt) await this.deps.payments.fulfilFromProvider(session, this.source);
      this.mismatch(payment, session.id, session.amountTotalMinor, session.currency, { paid });
      return;
    }
    const canceled = afterCancel(session, payment);
    if (canceled) this.find(canceled);
    if (paid && !payment.creditedAt) {
      await this.heal(session, payment);
    } else if (!paid && payment.creditedAt) {
      this.find({
        kind: "unexpected_credit",
        paymentId: payment.id,
        userId: payment.userId,
        providerRef: session.id,
        detail: {
          reason: "the provider's session is not paid",
          sessionStatus: session.status,
          sessionPaymentStatus: session.paymentStatus,
          credits: payment.credits,
        },
        healed: false,
      });
    }
  }

  // Fulfils through the one fulfil function: it locks the payment and credits at most once, so
  // a webhook or another run that got there first makes this a no-op.
  private async heal(session: CheckoutSessionInfo, payment: Payment): Promise<void> {
    const credited = await this.deps.payments.fulfilFromProvider(session, this.source);
    if (credited) {
      this.find({
        kind: "missing_credit",
        paymentId: payment.id,
        userId: payment.userId,
        providerRef: session.id,
        detail: { credits: payment.credits, ...amounts(session) },
        healed: true,
      });
      return;
    }
    const now = (await this.deps.store.findPaymentsByIds([payment.id]))[0];
    if (now?.creditedAt) {
      this.stats.healedElsewhere += 1;
      return;
    }
    this.find({
      kind: "missing_credit",
      paymentId: payment.id,
      userId: payment.userId,
      providerRef: session.id,
      detail: { reason: now?.reviewReason ?? "fulfilment refused the session", ...amounts(session) },
      healed: false,
    });
  }

  private async charges(charges: ChargeInfo[]): Promise<void> {
    this.checkAborted();
    this.stats.chargesSeen += charges.length;
    const found = await this.deps.store.findPaymentsByProviderRefs({
      paymentIntentIds: unique(charges.flatMap((c) => (c.paymentIntentId ? [c.paymentIntentId] : []))),
      chargeIds: unique(charges.map((c) => c.id)),
    });
    const byIntent = new Map(found.flatMap((p) => (p.providerPaymentIntentId ? [[p.providerPaymentIntentId, p]] : [])));
    const byCharge = new Map(found.flatMap((p) => (p.providerChargeId ? [[p.providerChargeId, p]] : [])));
    const refunds = this.refundPass();
    for (const charge of charges) {
      const payment =
        byCharge.get(charge.id) ?? (charge.paymentIntentId ? byIntent.get(charge.paymentIntentId) : undefined);
      if (!payment) {
        this.stats.chargesUnmatched += 1;
        continue;
      }
      this.check(payment);
      if (amountDiffers(payment, charge.amountMinor, charge.currency)) {
        this.mismatch(payment, charge.id, charge.amountMinor, charge.currency, {});
        continue;
      }
      await reconcileRefunds(refunds, charge, payment);
    }
    await this.flush();
    this.progress("charges");
  }

  private async intents(intents: PaymentIntentInfo[]): Promise<void> {
    this.checkAborted();
    await reconcileIntents(
      {
        deps: this.deps,
        source: this.source,
        stats: this.stats,
        seen: (payment) => {
          this.check(payment);
          this.sessionSeenFor.add(payment.id);
        },
        find: (finding) => this.find(finding),
        mismatch: (payment, intent) =>
          this.mismatch(payment, intent.id, intent.amountMinor, intent.currency, { paid: true }),
      },
      intents,
    );
    await this.flush();
    this.progress("charges");
  }

  // Our credited payments in the window that the listing did not show. Each is asked about by
  // id first (its session may sit just outside the window): only a session that is unknown or
  // unpaid there is reported.
  private async creditedPayments(): Promise<void> {
    let after: TimeCursor | undefined;
    let lookups = 0;
    for (;;) {
      this.checkAborted();
      const page = await this.deps.store.listCreditedPayments({
        provider: this.deps.provider.name,
        createdFrom: this.window.createdFrom,
        createdTo: this.window.createdTo,
        creditedBefore: this.window.createdTo,
        limit: RECONCILE_BATCH_SIZE,
        ...(after ? { after } : {}),
      });
      for (const payment of page) {
        this.check(payment);
        if (this.sessionSeenFor.has(payment.id) || this.mismatched.has(payment.id)) continue;
        let session: CheckoutSessionInfo | null = null;
        if (payment.providerSessionId && lookups < MAX_SESSION_LOOKUPS) {
          lookups += 1;
          session = await lookUpSession(this.deps.provider, payment.providerSessionId);
        }
        if (session && sessionSettled(session) && session.paymentId === payment.id) continue;
        this.find({
          kind: "unexpected_credit",
          paymentId: payment.id,
          userId: payment.userId,
          providerRef: payment.providerSessionId,
          detail: {
            reason: session ? "the provider's session is not paid" : "the provider does not know this payment",
            sessionStatus: session?.status ?? null,
            sessionPaymentStatus: session?.paymentStatus ?? null,
            credits: payment.credits,
          },
          healed: false,
        });
      }
      await this.flush();
      this.progress("payments");
      const last = page.at(-1);
      if (page.length < RECONCILE_BATCH_SIZE || !last) return;
      after = { at: last.createdAt, id: last.id };
    }
  }

  // Every user when asked, when no run checked before or the last full pass that wrote the flagged set is a week old;
  // otherwise the users with ledger rows after the previous checkpoint, and the flagged users (every
  // violator the last pass found, listed or not: reported every day until fixed). The checkpoint
  // moves to the watermark only when every row up to it was final before the check read them.
  // Violators past the limit are counted, not listed; they stay flagged and the next run lists
  // them first (the least recently reported come first), so none waits for the weekly pass.
  private async ledger(): Promise<void> {
    this.checkAborted();
    const previous = await this.deps.store.lastLedgerCheckpoint();
    const watermark = await this.deps.credits.ledgerWatermark();
    const now = this.deps.clock.now().getTime();
    const full =
      this.options.fullLedger === true ||
      !previous?.lastFullAt ||
      now - previous.lastFullAt.getTime() >= FULL_LEDGER_PASS_EVERY_MS;
    const touched = full || !previous ? undefined : { afterSeq: previous.seq, upToSeq: watermark.seq };
    const limit = this.options.maxLedgerFindings ?? MAX_INVARIANT_FINDINGS;
    const check = await this.deps.credits.checkInvariants(limit, touched, { flag: true });
    this.stats.ledgerPass = full ? "full" : "incremental";
    this.stats.ledgerCheckpoint = watermark.settled ? watermark.seq : (previous?.seq ?? 0);
    this.stats.usersChecked = check.usersChecked;
    // Listed outside the run's cap on findings: the steps before cannot crowd them out.
    for (const violation of check.violations) this.pending.push(ledgerFinding(violation));
    this.stats.findings.ledger_invariant = check.violationsFound;
    this.stats.ledgerUnlisted = check.violationsFound - check.violations.length;
    if (this.stats.ledgerUnlisted > 0) this.stats.findingsTruncated = true;
    this.progress("ledger");
  }

  private mismatch(
    payment: Payment,
    providerRef: string,
    amountMinor: number | null,
    currency: string | null,
    extra: Record<string, boolean>,
  ): void {
    if (this.mismatched.has(payment.id)) return;
    this.mismatched.add(payment.id);
    this.find({
      kind: "amount_mismatch",
      paymentId: payment.id,
      userId: payment.userId,
      providerRef,
      detail: {
        providerAmountMinor: amountMinor,
        providerCurrency: currency,
        amountMinor: payment.amountMinor,
        currency: payment.currency,
        credited: payment.creditedAt !== null,
        ...extra,
      },
      healed: false,
    });
  }

  private refundPass() {
    return { deps: this.deps, source: this.source, stats: this.stats, find: (f: NewFinding) => this.find(f) };
  }

  private check(payment: Payment): void {
    if (this.checked.has(payment.id)) return;
    this.checked.add(payment.id);
    this.stats.paymentsChecked = this.checked.size;
  }

  private find(finding: NewFinding): void {
    this.stats.findings[finding.kind] += 1;
    if (finding.healed) {
      this.stats.healed += 1;
      this.stats.healedByKind[finding.kind] += 1;
    }
    if (this.stored + this.pending.length >= MAX_FINDINGS_PER_RUN) {
      this.stats.findingsTruncated = true;
      return;
    }
    this.pending.push(finding);
  }

  // Written batch by batch, so a heal is on record even if the run fails later.
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending.splice(0);
    await this.deps.store.addFindings(this.runId, batch);
    this.stored += batch.length;
  }

  private checkAborted(): void {
    if (this.options.signal?.aborted) throw new Error("reconciliation aborted (shutting down)");
  }

  private progress(phase: ReconcilePhase): void {
    this.options.onProgress?.(progressOf(this.runId, phase, this.stats));
  }

  finalStats(startedAt: Date): ReconciliationStats {
    return { ...this.stats, durationMs: Math.max(0, this.deps.clock.now().getTime() - startedAt.getTime()) };
  }
}

function ledgerFinding(violation: InvariantViolation): NewFinding {
  return {
    kind: "ledger_invariant",
    paymentId: null,
    userId: violation.userId,
    providerRef: null,
    detail: {
      balance: violation.balance,
      ledgerSum: violation.ledgerSum,
      chainBrokenAtSeq: violation.chainBrokenAtSeq,
      grantsRemaining: violation.grantsRemaining,
      negativeWithoutDispute: violation.negativeWithoutDispute,
      grantsInconsistent: violation.grantsInconsistent,
    },
    healed: false,
  };
}
