import { formatMoney } from "../money.ts";
import { chargedMinor } from "./state.ts";
import type { Payment } from "./store.ts";

type Amounts = Pick<Payment, "amountMinor" | "amountPaidMinor" | "amountRefundedMinor" | "currency">;

// The words on a refund's clawback rows, which the user reads in their history: the money this
// refund gave back (the rise in the charge's cumulative refunded amount) and the payment it was
// part of. A refund that arrived before the payment was credited has no rise of its own by then:
// the payment's refunded total stands in.
export function refundRowReason(before: Amounts, after: Amounts): string {
  const paid = formatMoney(chargedMinor(after), after.currency);
  const refunded = after.amountRefundedMinor - before.amountRefundedMinor;
  if (refunded > 0) return `Refund of ${formatMoney(refunded, after.currency)} of your ${paid} payment`;
  return `Refund of your ${paid} payment (${formatMoney(after.amountRefundedMinor, after.currency)} refunded)`;
}
