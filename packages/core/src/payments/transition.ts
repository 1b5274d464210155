import type { Payment, PaymentPatch, PaymentStore } from "./store.ts";

// Applies a patch to a payment and records its status change, if any, as a transition row (in the
// order the payment's row lock gives them).
export async function transition(payments: PaymentStore, payment: Payment, patch: PaymentPatch, source: string) {
  await payments.updatePayment(payment.id, patch);
  if (patch.status && patch.status !== payment.status) {
    await payments.recordTransition({ paymentId: payment.id, from: payment.status, to: patch.status, source });
  }
}
