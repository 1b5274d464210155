import type { PaymentIntentInfo } from "./payments/provider.ts";
import type { Payment } from "./payments/store.ts";
import { amountDiffers, byId, unique } from "./reconciliation-helpers.ts";
import type { PassDeps } from "./reconciliation-pass.ts";
import type { NewFinding, ReconciliationStats } from "./reconciliation-store.ts";

// Auto top-ups in a reconciliation run: the provider's off-session PaymentIntents. A succeeded one
// whose webhook was lost (and whose worker gave up asking) is credited through the same function
// as payment_intent.succeeded, under the payment's lock, so the webhook or the worker racing this
// credits nothing twice. Its payment counts as seen, so the later pass over credited payments
// (which looks for their Checkout session, and an auto top-up has none) does not report it.

export interface IntentPass {
  deps: Pick<PassDeps, "store" | "payments">;
  source: string;
  stats: ReconciliationStats;
  seen(payment: Payment): void;
  find(finding: NewFinding): void;
  mismatch(payment: Payment, intent: PaymentIntentInfo): void;
}

export async function reconcileIntents(pass: IntentPass, intents: PaymentIntentInfo[]): Promise<void> {
  pass.stats.intentsSeen = (pass.stats.intentsSeen ?? 0) + intents.length;
  const succeeded = intents.filter((intent) => intent.status === "succeeded" && intent.paymentId !== null);
  const ids = unique(succeeded.map((intent) => intent.paymentId as string));
  const payments = byId(await pass.deps.store.findPaymentsByIds(ids));
  for (const intent of succeeded) {
    const payment = payments.get(intent.paymentId as string);
    if (!payment) continue;
    pass.seen(payment);
    if (payment.creditedAt) continue;
    if (amountDiffers(payment, intent.amountMinor, intent.currency)) {
      pass.mismatch(payment, intent);
      continue;
    }
    await heal(pass, intent, payment);
  }
}

async function heal(pass: IntentPass, intent: PaymentIntentInfo, payment: Payment): Promise<void> {
  const money = { amountMinor: intent.amountMinor, currency: intent.currency };
  const finding = {
    kind: "missing_credit" as const,
    paymentId: payment.id,
    userId: payment.userId,
    providerRef: intent.id,
  };
  if (await pass.deps.payments.applyIntentFromProvider(intent, pass.source)) {
    pass.find({ ...finding, detail: { credits: payment.credits, ...money }, healed: true });
    return;
  }
  const now = (await pass.deps.store.findPaymentsByIds([payment.id]))[0];
  if (now?.creditedAt) {
    pass.stats.healedElsewhere += 1;
    return;
  }
  const reason = now?.reviewReason ?? "fulfilment refused the payment intent";
  pass.find({ ...finding, detail: { reason, ...money }, healed: false });
}
