import type { Tx } from "./provider-events.ts";
import type { Settle } from "./settle.ts";
import type { PaymentStore } from "./store.ts";

// Payments settled again per pass: the queue only holds payments whose credits expired after a
// clawback, so a pass is short; the next sweep takes what is left.
const EXPIRY_SETTLES_PER_PASS = 100;

// Settles again the payments whose credits expired after a refund or dispute took credits back
// (0050, review 10 F2): the settle gives back what the clawbacks took of the user's other credits
// beyond what is still owed. Each payment in its own transaction, under its lock then its user's
// (the settle's order), the note removed in it: a note written meanwhile waits for that lock and
// is seen, or finds the row and adds nothing, the settle reading what it expired. Returns how many
// payments it settled.
export function createExpirySettles(deps: {
  store: PaymentStore;
  settle: Settle;
  inTransaction: <T>(work: (tx: Tx) => Promise<T>) => Promise<T>;
}) {
  const { store, settle, inTransaction } = deps;
  return async function settleAfterExpiry(): Promise<number> {
    let settled = 0;
    for (;;) {
      const due = await store.expirySettlesDue(EXPIRY_SETTLES_PER_PASS);
      for (const note of due) {
        await inTransaction(async (tx) => {
          const payment = await tx.payments.lockPayment(note.paymentId);
          if (payment) await settle(tx, payment, {}, `expiry:${note.id}`);
          await tx.payments.clearExpirySettle(note.paymentId, note.id);
        });
        settled += 1;
      }
      if (due.length < EXPIRY_SETTLES_PER_PASS) return settled;
    }
  };
}
