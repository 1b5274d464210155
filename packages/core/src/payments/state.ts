// The payment state machine. The provider reports facts (paid, cumulative refunded amount,
// dispute status) that only move forward; the status is a function of those facts. Events that
// arrive late, twice or out of order therefore end in the same state, and no event can move a
// payment backwards.

export const paymentStatuses = [
  "created",
  "pending",
  "paid",
  "partially_refunded",
  "refunded",
  "disputed",
  "dispute_won",
  "dispute_lost",
  "failed",
  "expired",
  "canceled",
] as const;
export type PaymentStatus = (typeof paymentStatuses)[number];
export const disputeStatuses = ["open", "won", "lost"] as const;
export type DisputeStatus = (typeof disputeStatuses)[number];

export interface PaymentFacts {
  status: PaymentStatus;
  creditedAt: Date | null;
  amountMinor: number;
  // What the customer paid (null until paid, or when the provider did not say): with a discount
  // or tax it differs from amountMinor, the pack's price.
  amountPaidMinor?: number | null;
  amountRefundedMinor: number;
  disputeStatus: DisputeStatus | null;
}

// The amount the charge was for, which refunds are measured against: what was paid once known
// (a promotion code lowers it, tax raises it), else the price.
export function chargedMinor(payment: { amountMinor: number; amountPaidMinor?: number | null }): number {
  return payment.amountPaidMinor ?? payment.amountMinor;
}

// Statuses an unpaid payment may leave for a closing one (failed, expired, canceled).
export const OPEN_STATUSES: readonly PaymentStatus[] = ["created", "pending"];

// A payment that charged nothing (a 100%-off promotion code) has nothing to refund: with 0 refunded
// of 0 charged it is paid, not refunded.
export function deriveStatus(facts: PaymentFacts): PaymentStatus {
  if (!facts.creditedAt) return facts.status;
  if (facts.disputeStatus === "open") return "disputed";
  if (facts.disputeStatus === "lost") return "dispute_lost";
  if (facts.amountRefundedMinor > 0 && facts.amountRefundedMinor >= chargedMinor(facts)) return "refunded";
  if (facts.amountRefundedMinor > 0) return "partially_refunded";
  if (facts.disputeStatus === "won") return "dispute_won";
  return "paid";
}

// A dispute only moves open → won | lost; a late "created" never reopens a closed one.
export function nextDisputeStatus(current: DisputeStatus | null, reported: DisputeStatus): DisputeStatus {
  if (current === "won" || current === "lost") return current;
  return reported;
}

// A dispute report's facts: the status only moves forward (nextDisputeStatus), and the amount is
// what the bank took (all or part of the charge), never replaced by a late report on a dispute
// already closed.
export function nextDispute(
  current: { disputeStatus: DisputeStatus | null; disputeAmountMinor: number | null },
  reported: DisputeStatus,
  amountMinor: number,
): { disputeStatus: DisputeStatus; disputeAmountMinor: number } {
  const closed = current.disputeStatus === "won" || current.disputeStatus === "lost";
  return {
    disputeStatus: nextDisputeStatus(current.disputeStatus, reported),
    disputeAmountMinor: closed ? (current.disputeAmountMinor ?? amountMinor) : amountMinor,
  };
}

// How many of the payment's credits each cause should hold back, given the facts.
// Refunds claw back in proportion to the amount charged (rounded down, in the user's favour): a
// full refund of a discounted payment takes back all its credits. An open or lost dispute takes
// back whatever the refunds left. A payment that charged nothing has no refund to claw back for
// (and no proportion to take: 0 of 0).
export function clawbackTargets(input: {
  credits: number;
  amountMinor: number;
  amountPaidMinor?: number | null;
  amountRefundedMinor: number;
  disputeStatus: DisputeStatus | null;
}): { refunded: number; disputed: number } {
  const charged = chargedMinor(input);
  const refunded =
    charged > 0 ? Math.floor((input.credits * Math.min(input.amountRefundedMinor, charged)) / charged) : 0;
  const disputed = input.disputeStatus === "open" || input.disputeStatus === "lost" ? input.credits - refunded : 0;
  return { refunded, disputed };
}
