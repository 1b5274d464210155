import { invariant } from "./invariant.ts";
import type { LedgerEntry, LedgerStore } from "./ledger.ts";
import { systemKey } from "./ledger-keys.ts";

// Open holds looked at per round trip while a clawback still needs credits.
const HOLDS_PER_BATCH = 100;

export interface Clawback {
  userId: string;
  // Credits the refund or dispute wants back (> 0).
  wanted: number;
  kind: "refund_clawback" | "dispute_clawback";
  // The clawback row's own key; each hold it draws from gets a key derived from it.
  idempotencyKey: string;
  paymentId: string;
  // What the user reads on the clawback rows (the refund's money), if anything.
  reason?: string;
  now: Date;
}

export interface ClawbackResult {
  // Credits taken back, in all (0: no row).
  taken: number;
  // Of those, the credits taken out of open holds (one clawback row per hold, with its hold id).
  fromHolds: number;
  // The row of what came from the balance (or was taken below zero); null when nothing did.
  entry: LedgerEntry | null;
}

// How much of `wanted` to take from the balance, then from open holds (in `available` order);
// pure, so the arithmetic is tested on its own. A balance below zero offers nothing.
export function planClawback(
  wanted: number,
  balance: number,
  holdsAvailable: readonly number[],
): { fromBalance: number; fromHolds: number[] } {
  const fromBalance = Math.min(wanted, Math.max(balance, 0));
  let needed = wanted - fromBalance;
  const fromHolds = holdsAvailable.map((available) => {
    const take = Math.min(needed, Math.max(available, 0));
    needed -= take;
    return take;
  });
  return { fromBalance, fromHolds };
}

// Takes credits back for a refund or dispute, from the balance first, then from the user's open
// holds (each gives up what is taken, so a later capture or release can never hand it back), and
// only then records what is missing: a refund takes no more than was there (the caller records
// the shortfall), a dispute takes the rest below zero (the one documented overdraft, ADR 001).
// Runs inside the caller's transaction: the balance row is locked first, then the holds, as every
// path that touches a user's holds does, so no spend, capture or release can slip in between.
export async function clawBack(tx: LedgerStore, claim: Clawback): Promise<ClawbackResult> {
  const balance = (await tx.lockBalance(claim.userId, claim.now)) ?? 0;
  let fromHolds = 0;
  let needed = claim.wanted - planClawback(claim.wanted, balance, []).fromBalance;
  while (needed > 0) {
    const open = await tx.lockOpenHolds(claim.userId, HOLDS_PER_BATCH);
    const plan = planClawback(needed, 0, open.map(availableIn));
    for (const [index, hold] of open.entries()) {
      const take = plan.fromHolds[index] ?? 0;
      if (take === 0) continue;
      const shrunk = await tx.clawBackHold(hold.id, take, claim.now);
      invariant(shrunk, `hold ${hold.id}: clawing back ${take} credits failed`);
      const returned = await tx.post({
        userId: claim.userId,
        amount: take,
        kind: "hold_release",
        idempotencyKey: systemKey.holdClawback(hold.id, claim.idempotencyKey),
        holdId: hold.id,
        paymentId: claim.paymentId,
        reason: `taken back by a ${claim.kind === "refund_clawback" ? "refund" : "dispute"}`,
        at: claim.now,
      });
      invariant(returned, `hold ${hold.id}: returning ${take} credits for a clawback failed`);
      // The release gives back the payment's grants first (0046); the hold part's own clawback row
      // takes back exactly what that release gave, from a grant that expired since too: they were
      // reserved while live (0008_grant_fixes.sql).
      const clawed = await tx.post({
        userId: claim.userId,
        amount: -take,
        kind: claim.kind,
        idempotencyKey: systemKey.holdClawbackTake(hold.id, claim.idempotencyKey),
        holdId: hold.id,
        paymentId: claim.paymentId,
        reason: claim.reason ?? null,
        at: claim.now,
      });
      invariant(clawed, `hold ${hold.id}: clawing back ${take} credits failed`);
      fromHolds += take;
      needed -= take;
    }
    if (open.length < HOLDS_PER_BATCH || plan.fromHolds.every((take) => take === 0)) break;
  }
  const dispute = claim.kind === "dispute_clawback";
  const taken = dispute ? claim.wanted : claim.wanted - needed;
  const fromBalance = taken - fromHolds;
  if (fromBalance === 0) return { taken, fromHolds, entry: null };
  const entry = await tx.post({
    userId: claim.userId,
    amount: -fromBalance,
    kind: claim.kind,
    idempotencyKey: claim.idempotencyKey,
    paymentId: claim.paymentId,
    reason: claim.reason ?? null,
    // A refund never overdraws; a dispute takes what the balance lacks below zero.
    allowNegative: dispute,
    at: claim.now,
  });
  invariant(entry, `payment ${claim.paymentId}: ${claim.kind} of ${fromBalance} failed`);
  return { taken, fromHolds, entry };
}

const availableIn = (hold: { amount: number; capturedAmount: number | null; clawedBack: number }) =>
  hold.amount - (hold.capturedAmount ?? 0) - hold.clawedBack;
