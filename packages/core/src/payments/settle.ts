import { clawBack } from "../clawback.ts";
import type { Clock } from "../clock.ts";
import type { OutboxStore } from "../events/events.ts";
import { invariant } from "../invariant.ts";
import type { LedgerStore } from "../ledger.ts";
import { emitPaymentFacts } from "./payment-facts.ts";
import { refundRowReason } from "./refund-reason.ts";
import type { RefundStore } from "./refund-store.ts";
import { chargedMinor, clawbackTargets, deriveStatus } from "./state.ts";
import type { Payment, PaymentPatch, PaymentStore } from "./store.ts";
import { transition } from "./transition.ts";

// What crediting, clawing back and giving back touch (the refund service passes its own transaction).
export interface LedgerTx {
  payments: PaymentStore;
  ledger: LedgerStore;
  outbox: OutboxStore;
  refunds: RefundStore;
}

export type Settle = (tx: LedgerTx, payment: Payment, facts: PaymentPatch, source: string) => Promise<void>;

// Applies new facts to a payment under its lock, posts the ledger deltas they imply (each the
// difference between the target and what was already taken, under a key derived from `source`),
// and records the status change (ADR 002).
export function createSettle(clock: Clock): Settle {
  return async function settle(tx, payment, facts, source) {
    // One instant for what expired and for every posting below: a grant whose expiry falls between
    // two readings of the clock would be left out of one and taken by the other.
    const now = clock.now();
    const next = { ...payment, ...facts };
    const patch: PaymentPatch = { ...facts };
    // A charge reporting more refunded than this payment's amount is not the charge we sold (or
    // the amounts disagree): record at most the whole payment (a CHECK forbids more, and failing
    // here would answer 500 forever) and have a person look.
    const charged = chargedMinor(next);
    if (next.amountRefundedMinor > charged) {
      patch.reviewReason = `provider reports ${next.amountRefundedMinor} refunded, more than the payment's ${charged}`;
      next.amountRefundedMinor = charged;
      patch.amountRefundedMinor = charged;
    }
    let expiredOfRefund = 0;
    if (next.creditedAt) {
      const target = clawbackTargets(next);
      const held = await giveBackBeyondShares(tx, payment, next, { source, now });
      const { expired, creditsRefunded, creditsDisputed } = held;
      if (creditsRefunded !== next.creditsRefunded) patch.creditsRefunded = creditsRefunded;
      if (creditsDisputed !== next.creditsDisputed) patch.creditsDisputed = creditsDisputed;
      expiredOfRefund = Math.min(expired, Math.max(0, target.refunded - creditsRefunded));
      const expiredOfDispute = Math.min(expired - expiredOfRefund, Math.max(0, target.disputed - creditsDisputed));
      const refundWanted = target.refunded - expiredOfRefund - creditsRefunded;
      if (refundWanted > 0) {
        const taken = await clawBackRefund(tx, next, refundWanted, {
          source,
          reason: refundRowReason(payment, next),
          now,
        });
        patch.creditsRefunded = creditsRefunded + taken;
        if (taken < refundWanted) {
          patch.reviewReason = `refund clawback short by ${refundWanted - taken} credits (already spent)`;
        }
      }
      const disputeWanted = target.disputed - expiredOfDispute - creditsDisputed;
      if (disputeWanted > 0) {
        const { taken } = await clawBack(tx.ledger, {
          userId: next.userId,
          wanted: disputeWanted,
          kind: "dispute_clawback",
          idempotencyKey: `s:dispute_clawback:${payment.id}:${source}`,
          paymentId: payment.id,
          now,
        });
        patch.creditsDisputed = creditsDisputed + taken;
      }
    }
    await transition(tx.payments, payment, { ...patch, status: deriveStatus(next) }, source);
    await emitPaymentFacts(tx.outbox, payment, { ...next, ...patch }, now, expiredOfRefund);
  };
}

// Gives back what a payment's clawbacks took beyond their shares, and reads what expired of the
// payment. Credits of this payment that expired (what was just given back to a grant past its
// expiry included) left the balance once already: a clawback does not take them again, from the
// user's other grants (a refund) or below zero (a dispute). They cover what the clawbacks have not
// taken yet of the refund's share, then of the dispute's (the caller's takes).
async function giveBackBeyondShares(
  tx: LedgerTx,
  payment: Payment,
  next: Payment,
  { source, now }: { source: string; now: Date },
) {
  const target = clawbackTargets(next);
  // Under the user's lock (a clawback takes it next anyway): an expiry of the payment's credits
  // commits before the read below, or after this transaction, when its trigger sees what the
  // clawbacks took and notes the payment for the grant sweep (0050).
  await tx.ledger.lockBalance(next.userId, now);
  const expiredNow = () => tx.ledger.expiredOfPayment(next.userId, next.id, now);
  let expired = await expiredNow();
  // A dispute's share shrinks when a refund covers part of it, and what expired covers it beyond
  // the part of the refund's share its clawbacks did not take of the payment's own grants (what
  // they took there is not what expired; review 13 F1): what its clawbacks took beyond that goes
  // back first, so the refund's clawback finds the credits.
  let creditsDisputed = next.creditsDisputed;
  const expiredOfDispute = async () => {
    if (creditsDisputed === 0 || expired === 0 || target.refunded === 0) return expired;
    const own = await tx.ledger.takenFromPaymentGrants(next.userId, next.id, "refund");
    return expired - Math.min(expired, Math.max(0, target.refunded - own));
  };
  const giveBackOfDispute = async (round: string) => {
    const disputeOwed = target.disputed - (await expiredOfDispute());
    const disputeKeeps = Math.min(target.disputed, await kept(tx, next, "dispute", creditsDisputed, disputeOwed));
    if (creditsDisputed <= disputeKeeps) return;
    const back = creditsDisputed - disputeKeeps;
    creditsDisputed -= await postDelta(tx, next, "dispute_reversal", back, `${source}${round}`, now);
    expired = await expiredNow();
  };
  await giveBackOfDispute("");
  // The refunded amount went down (a refund failed): what the refund's clawbacks took beyond its
  // new share goes back, never more than they took (a clawback that came up short gives back only
  // its part). What expired covers that share first: a clawback that took spent credits because
  // the share was larger gives them back when what expired covers the smaller one (review 10 F3:
  // otherwise the outcome hung on the order of the refunds). Otherwise, what they took of the
  // user's other credits beyond what expired leaves owed goes back (review 10 F2: credits of the
  // payment held across a clawback, expired since).
  let creditsRefunded = next.creditsRefunded;
  const refundFell = target.refunded < clawbackTargets(payment).refunded;
  const refundKeeps = refundFell
    ? Math.max(0, target.refunded - expired)
    : await kept(tx, next, "refund", creditsRefunded, target.refunded - expired);
  if (creditsRefunded > refundKeeps) {
    creditsRefunded -= await postDelta(tx, next, "refund_reversal", creditsRefunded - refundKeeps, source, now);
    // What went back to a grant past its expiry expired at once, and may cover more of the
    // dispute's share (review 14 F1): the dispute's step again, under keys of its own.
    expired = await expiredNow();
    await giveBackOfDispute(":after-refund");
  }
  return { expired, creditsRefunded, creditsDisputed };
}

// What a refund's (or dispute's) clawbacks that took `taken` keep when `owed` is what the share
// still asks of the user once what expired is counted: what they took of the payment's own credits
// (those would have expired with the rest), and of the user's other credits only what is owed.
// They took the user's other credits for credits of the payment they could not reach (held by an
// open hold): released past the expiry, those expired, and the user lost them twice (review 10 F2).
// The store is read only when the clawbacks took more than is owed (something of the payment expired).
async function kept(tx: LedgerTx, payment: Payment, cause: "refund" | "dispute", taken: number, owed: number) {
  if (taken <= Math.max(0, owed)) return taken;
  const own = await tx.ledger.takenFromPaymentGrants(payment.userId, payment.id, cause);
  return Math.min(taken, Math.max(owed, own, 0));
}

async function postDelta(
  tx: LedgerTx,
  payment: Payment,
  kind: "dispute_reversal" | "refund_reversal",
  amount: number,
  source: string,
  now: Date,
): Promise<number> {
  const entry = await tx.ledger.post({
    userId: payment.userId,
    amount,
    kind,
    idempotencyKey: `s:${kind}:${payment.id}:${source}`,
    paymentId: payment.id,
    at: now,
  });
  invariant(entry, `payment ${payment.id}: ${kind} of ${amount} failed`);
  return Math.abs(amount);
}

// A refund takes back what the user still has, in the balance or reserved by open holds, never
// more: credits already spent are flagged for review rather than driving the balance below zero.
async function clawBackRefund(
  tx: LedgerTx,
  payment: Payment,
  wanted: number,
  claim: { source: string; reason: string; now: Date },
) {
  const { source, reason, now } = claim;
  const { taken } = await clawBack(tx.ledger, {
    userId: payment.userId,
    wanted,
    kind: "refund_clawback",
    idempotencyKey: `s:refund_clawback:${payment.id}:${source}`,
    paymentId: payment.id,
    reason,
    now,
  });
  return taken;
}
