import type { ChargeInfo } from "./payments/provider.ts";
import type { Payment } from "./payments/store.ts";
import type { PassDeps } from "./reconciliation-pass.ts";
import type { NewFinding, ReconciliationStats } from "./reconciliation-store.ts";

// Refunds in a reconciliation run: a charge whose refunded amount differs from ours. More refunded
// at the provider: a lost charge.refunded, applied through the same path as the event. Less: a
// refund that failed (or was canceled) after it was counted, all of whose events were lost (ADR
// 016), applied through the events' failure path. Both act under the payment's lock and at most
// once, so a webhook or another run racing this one changes nothing twice.

export interface RefundPass {
  deps: Pick<PassDeps, "store" | "payments">;
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
