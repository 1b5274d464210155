import type { Tx } from "./provider-events.ts";
import type { Settle } from "./settle.ts";
import type { PaymentStore } from "./store.ts";

// Notes read per round, and rounds per pass: the queue only holds payments whose credits expired
// after a clawback, so a pass is short; the next sweep takes what is left.
const EXPIRY_SETTLES_PER_ROUND = 100;
const EXPIRY_SETTLE_ROUNDS = 20;

// Settles again the payments whose credits expired after a refund or dispute took credits back
// (0050, review 10 F2): the settle gives back what the clawbacks took of the user's other credits
// beyond what is still owed. Each payment in its own transaction: its lock, then its user's (the
// settle's order; every expiry, and so every note, is written under the user's lock), then the note
// claimed. A note another pass claimed first is skipped: settled again under its key, a later
// give-back would reuse a key already in the ledger (review 13 F2). A note whose settle fails is
// reported and left for the next sweep, without stopping the others. Returns how many it settled.
export function createExpirySettles(deps: {
  store: PaymentStore;
  settle: Settle;
  inTransaction: <T>(work: (tx: Tx) => Promise<T>) => Promise<T>;
}) {
  const { store, settle, inTransaction } = deps;
  const settleOne = (note: { paymentId: string; id: string }) =>
    inTransaction(async (tx) => {
      const payment = await tx.payments.lockPayment(note.paymentId);
      if (payment) await tx.ledger.lockBalance(payment.userId);
      if (!(await tx.payments.claimExpirySettle(note.paymentId, note.id))) return false;
      if (payment) await settle(tx, payment, {}, `expiry:${note.id}`);
      return true;
    });

  return async function settleAfterExpiry(onError: (error: unknown, paymentId: string) => void): Promise<number> {
    let settled = 0;
    // A give-back can land on another payment's expired grant and note that payment: the queue is
    // read again until a round settles nothing (review 14 F2), at most EXPIRY_SETTLE_ROUNDS times
    // (a note that keeps failing is read each round; the next sweep takes what is left).
    for (let round = 0; round < EXPIRY_SETTLE_ROUNDS; round++) {
      const due = await store.expirySettlesDue(EXPIRY_SETTLES_PER_ROUND);
      let settledNow = 0;
      for (const note of due) {
        try {
          if (await settleOne(note)) settledNow += 1;
        } catch (error) {
          onError(error, note.paymentId);
        }
      }
      settled += settledNow;
      if (settledNow === 0) break;
    }
    return settled;
  };
}
