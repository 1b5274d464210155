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

// Takes credits back for a refund or dispute: the payment's own credits first, those its grants
// hold unreserved (the balance row takes the payment's grants first), then those open holds
// reserve of them; then the rest of the balance, then the rest of the open holds (each hold gives
// up what is taken, so a later capture or release can never hand it back); only then records what
// is missing: a refund takes no more than was there (the caller records the shortfall), a dispute
// takes the rest below zero (the one documented overdraft, ADR 001). The payment's held credits
// come before the user's other credits (review 10 F2): a hold of a pack's credits open across its
// expiry would otherwise keep them, and its release give them to the expired grant, where they
// expire, while the clawback took another pack's.
// Runs inside the caller's transaction: the balance row is locked first, then the holds, as every
// path that touches a user's holds does, so no spend, capture or release can slip in between.
export async function clawBack(tx: LedgerStore, claim: Clawback): Promise<ClawbackResult> {
  const balance = (await tx.lockBalance(claim.userId, claim.now)) ?? 0;
  const own = await tx.creditsOfPayment(claim.userId, claim.paymentId, claim.now);
  const ownFromBalance = Math.min(claim.wanted, Math.max(balance, 0), own.unreserved);
  const ownPlan = planClawback(
    claim.wanted - ownFromBalance,
    0,
    own.held.map((held) => held.amount),
  );
  let fromHolds = 0;
  for (const [index, held] of own.held.entries()) {
    const take = ownPlan.fromHolds[index] ?? 0;
    if (take > 0)
      fromHolds += await takeFromHold(tx, claim, held.holdId, take, systemKey.ownCreditsSource(claim.idempotencyKey));
  }
  const rest = planClawback(claim.wanted - ownFromBalance - fromHolds, Math.max(balance, 0) - ownFromBalance, []);
  let needed = claim.wanted - ownFromBalance - fromHolds - rest.fromBalance;
  while (needed > 0) {
    const open = await tx.lockOpenHolds(claim.userId, HOLDS_PER_BATCH);
    const plan = planClawback(needed, 0, open.map(availableIn));
    for (const [index, hold] of open.entries()) {
      const take = plan.fromHolds[index] ?? 0;
      if (take === 0) continue;
      fromHolds += await takeFromHold(tx, claim, hold.id, take, claim.idempotencyKey);
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

// Takes `take` credits out of an open hold: its release gives them back to its grants (the
// payment's first, 0046), its clawback row takes back exactly what that release gave, from a grant
// that expired since too: they were reserved while live (0008_grant_fixes.sql). `source` keys the
// pair: a hold drawn for the payment's own credits, then for the rest, has two.
async function takeFromHold(tx: LedgerStore, claim: Clawback, holdId: string, take: number, source: string) {
  const shrunk = await tx.clawBackHold(holdId, take, claim.now);
  invariant(shrunk, `hold ${holdId}: clawing back ${take} credits failed`);
  const returned = await tx.post({
    userId: claim.userId,
    amount: take,
    kind: "hold_release",
    idempotencyKey: systemKey.holdClawback(holdId, source),
    holdId,
    paymentId: claim.paymentId,
    reason: `taken back by a ${claim.kind === "refund_clawback" ? "refund" : "dispute"}`,
    at: claim.now,
  });
  invariant(returned, `hold ${holdId}: returning ${take} credits failed`);
  const clawed = await tx.post({
    userId: claim.userId,
    amount: -take,
    kind: claim.kind,
    idempotencyKey: systemKey.holdClawbackTake(holdId, source),
    holdId,
    paymentId: claim.paymentId,
    reason: claim.reason ?? null,
    at: claim.now,
  });
  invariant(clawed, `hold ${holdId}: clawing back ${take} credits failed`);
  return take;
}

const availableIn = (hold: { amount: number; capturedAmount: number | null; clawedBack: number }) =>
  hold.amount - (hold.capturedAmount ?? 0) - hold.clawedBack;
