import type { ChargeInfo } from "./payments/provider.ts";
import type { Payment } from "./payments/store.ts";
import type { PassDeps } from "./reconciliation-pass.ts";
import type { NewFinding, ReconciliationStats } from "./reconciliation-store.ts";

// Refunds in a reconciliation run: a charge whose refunded amount differs from ours. More refunded
// at the provider: a lost charge.refunded, applied through the same path as the event. Less: a
// refund that failed (or was canceled) after it was counted, all of whose events were lost (ADR
// 016), applied through the events' failure path. Both act under the payment's lock and at most
// once, so a webhook or another run racing this one changes nothing twice. And our own refunds
// sent from the panel whose answer never came back, settled from the provider's record of them.

export interface RefundPass {
  deps: Pick<PassDeps, "store" | "payments" | "refunds">;
  source: string;
  stats: ReconciliationStats;
  find(finding: NewFinding): void;
}

export async function reconcileRefunds(pass: RefundPass, charge: ChargeInfo, payment: Payment): Promise<void> {
  if (charge.amountRefundedMinor > payment.amountRefundedMinor) await refunded(pass, charge, payment);
  else if (charge.amountRefundedMinor < payment.amountRefundedMinor) await undone(pass, charge, payment);
}

async function refunded(pass: RefundPass, charge: ChargeInfo, payment: Payment): Promise<void> {
  const applied = await pass.deps.payments.applyRefundFromProvider(charge, pass.source);
  if (!applied) {
    pass.stats.healedElsewhere += 1;
    return;
  }
  const after = (await pass.deps.store.findPaymentsByIds([payment.id]))[0];
  pass.find({
    kind: "refund_not_clawed_back",
    paymentId: payment.id,
    userId: payment.userId,
    providerRef: charge.id,
    detail: {
      refundedAtProviderMinor: charge.amountRefundedMinor,
      recordedBeforeMinor: payment.amountRefundedMinor,
      currency: charge.currency,
      creditsClawedBack: (after?.creditsRefunded ?? payment.creditsRefunded) - payment.creditsRefunded,
      reviewReason: after?.reviewReason ?? null,
    },
    healed: true,
  });
}

async function undone(pass: RefundPass, charge: ChargeInfo, payment: Payment): Promise<void> {
  const applied = await pass.deps.payments.applyRefundFailuresFromProvider(charge);
  if (applied.length === 0) {
    // Already applied, the charge listing older than our refund, or unreadable now (next run).
    pass.stats.healedElsewhere += 1;
    return;
  }
  const after = (await pass.deps.store.findPaymentsByIds([payment.id]))[0];
  pass.find({
    kind: "refund_failure_not_reversed",
    paymentId: payment.id,
    userId: payment.userId,
    providerRef: charge.id,
    detail: {
      providerRefundIds: applied.join(","),
      refundedAtProviderMinor: charge.amountRefundedMinor,
      recordedBeforeMinor: payment.amountRefundedMinor,
      currency: charge.currency,
      creditsGivenBack: payment.creditsRefunded - (after?.creditsRefunded ?? payment.creditsRefunded),
    },
    healed: true,
  });
}

// Our refunds left `processing` (the provider's answer never recorded: the process stopped, or the
// answer was lost, between the call and the answer), each settled through the refund service's own
// answer path: under the payment's lock and at most once, so the answer arriving late, a retry or
// another run finds it settled. One the provider has no record of is left alone while it can still
// be sent again, and closed as failed after that.
export async function reconcileUnanswered(pass: RefundPass): Promise<void> {
  for (const refund of await pass.deps.refunds.unansweredRefunds()) {
    const [before] = await pass.deps.store.findPaymentsByIds([refund.paymentId]);
    const settled = await pass.deps.refunds.settleFromProvider(refund);
    if (!settled) continue;
    const [after] = await pass.deps.store.findPaymentsByIds([refund.paymentId]);
    pass.find({
      kind: "refund_unanswered",
      paymentId: refund.paymentId,
      userId: refund.userId,
      providerRef: settled.providerRefundId,
      detail: {
        refundId: refund.id,
        status: settled.status,
        amountMinor: refund.amountMinor,
        currency: refund.currency,
        creditsClawedBack: (after?.creditsRefunded ?? 0) - (before?.creditsRefunded ?? 0),
      },
      healed: true,
    });
  }
}
