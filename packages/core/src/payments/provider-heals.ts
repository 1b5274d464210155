import type { ChargeInfo, PaymentProvider } from "./provider.ts";
import {
  applyRefundFailure,
  isFresh,
  isUndone,
  type ListedRefunds,
  listRefundsFor,
  listRefundsOfCharge,
  refundedAtProvider,
} from "./refund-failures.ts";
import type { LedgerTx, Settle } from "./settle.ts";
import type { Payment, PaymentStore } from "./store.ts";

// Reconciliation's refund heals: what the provider reports about a charge that our events never
// applied, through the same paths as the events (moved out of payments.ts, which holds the events).

export interface RefundHealDeps {
  store: PaymentStore;
  provider: PaymentProvider;
  settle: Settle;
  inTransaction: <T>(work: (tx: LedgerTx) => Promise<T>) => Promise<T>;
  applyRefund: (
    tx: LedgerTx,
    payment: Payment,
    charge: ChargeInfo,
    source: string,
    listed?: ListedRefunds,
  ) => Promise<void>;
}

export function createRefundHeals(deps: RefundHealDeps) {
  const { store, provider, settle, inTransaction } = deps;

  // A refund the provider reports but we never recorded (a lost charge.refunded), applied through
  // the same path as the event. False when there is nothing new to apply (unknown payment, or the
  // refund is already recorded).
  async function applyRefundFromProvider(charge: ChargeInfo, source: string): Promise<boolean> {
    // After a failed refund the charge's total is not comparable with ours (ADR 016): the
    // provider's refunds, listed now (before the lock), say what was refunded (review 8: it was
    // never healed). Unreadable now: nothing is applied, and the next run asks again.
    const listed = await listRefundsFor({ store, provider }, { id: source, type: "charge.refunded", charge }).catch(
      () => undefined,
    );
    return inTransaction(async (tx) => {
      const payment = await tx.payments.lockPaymentByProviderRef({
        paymentIntentId: charge.paymentIntentId,
        chargeId: charge.id,
      });
      if (!payment) return false;
      const reported = await refundedAtProvider(tx, payment, charge, listed, false);
      if (reported <= payment.amountRefundedMinor) return false;
      await deps.applyRefund(tx, payment, charge, source, listed);
      return true;
    });
  }

  // Refunds that failed or were canceled at the provider after they were counted, all of whose
  // events were lost (the charge reports less refunded than we recorded). Each goes through the
  // events' failure path, keyed by the provider's refund id, so a late event (or another run)
  // finds it done. The listing unreadable, or the payment's refunds changed while it was read:
  // nothing now, the next run asks again. Returns the provider refund ids applied.
  async function applyRefundFailuresFromProvider(charge: ChargeInfo): Promise<string[]> {
    const ref = { paymentIntentId: charge.paymentIntentId, chargeId: charge.id };
    const listed = await listRefundsOfCharge({ store, provider }, ref).catch(() => undefined);
    const undone = listed?.refunds.filter(isUndone) ?? [];
    if (!listed || undone.length === 0) return [];
    return inTransaction(async (tx) => {
      const applied: string[] = [];
      let payment = await tx.payments.lockPaymentByProviderRef(ref);
      if (!payment || !isFresh(payment, listed)) return applied;
      for (const refund of undone) {
        if (await applyRefundFailure(tx, settle, payment, refund, listed)) applied.push(refund.id);
        payment = (await tx.payments.lockPayment(payment.id)) ?? payment;
      }
      return applied;
    });
  }

  return { applyRefundFromProvider, applyRefundFailuresFromProvider };
}
