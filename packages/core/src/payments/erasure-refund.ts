import { auditRefund } from "./refund-sender.ts";
import type { Refund } from "./refund-store.ts";
import { refundableMinor } from "./refunds.ts";
import type { LedgerTx } from "./settle.ts";
import { chargedMinor } from "./state.ts";
import type { Payment } from "./store.ts";

// Shown on the refund row and its audit rows, kept forever: says why no admin asked.
export const ERASURE_REFUND_REASON = "account erased: the payment completed after its user was erased";

// One per payment: a replayed event or a second heal finds it taken.
export const erasureRefundKey = (paymentId: string) => `erasure:${paymentId}`;

// A payment that completed (webhook, success page, reconciliation, an auto top-up's charge) for a
// user already erased: the credits landed on an account nobody can use, so the money goes back,
// in full, to the card that paid (ADR 025). Called by the one fulfil function right after it
// credited, under the payment's lock and the user's balance lock, in the crediting transaction:
// the refund row (sent without a second admin), its audit row (no actor: the system) and its
// queued send commit with the credit or not at all. The erasure worker sends it after commit
// (provider_erasure_tasks, send_refund), and its answer claws the credits back through the
// refund path, as any refund's does. The database admits an erasure refund for nothing else
// (migration 0042: only an erased user's credited payment, only all of what is left on it).
export async function refundIfErased(tx: LedgerTx, payment: Payment, now: Date): Promise<Refund | null> {
  if (!(await tx.payments.isUserErased(payment.userId))) return null;
  // Nothing charged (a promotion code took the whole price) or disputed: nothing to send back.
  const amount = refundableMinor(payment, await tx.refunds.inFlightMinor(payment.id));
  if (amount <= 0 || amount !== chargedMinor(payment) - payment.amountRefundedMinor) return null;
  const refund = await tx.refunds.insertRefund({
    paymentId: payment.id,
    userId: payment.userId,
    amountMinor: amount,
    currency: payment.currency,
    reason: ERASURE_REFUND_REASON,
    idempotencyKey: erasureRefundKey(payment.id),
    status: "processing",
    origin: "erasure",
    // No admin asked: the erasure of the payee did (a uuid of a person is required here).
    requestedBy: payment.userId,
    // Never pending, so never expires; the column is required.
    expiresAt: now,
  });
  if (!refund) return null;
  await auditRefund(tx, refund, null, "refund_requested");
  await tx.refunds.queueErasureRefund(refund);
  return refund;
}
