import { randomUUID } from "node:crypto";
import type { Clock } from "./clock.ts";
import { IdempotencyConflictError, InvalidInputError, InvalidStateError, NotFoundError } from "./errors.ts";
import { invariant } from "./invariant.ts";
import type { Hold, LedgerStore } from "./ledger.ts";
import { balanceIn, refusal } from "./ledger-balance.ts";
import { clientKey, type IdempotencyScope, systemKey } from "./ledger-keys.ts";
import { HOLD_EXPIRY_BATCH, HOLD_TTL_SECONDS } from "./limits.ts";
import { assertCredits, assertIdempotencyKey } from "./validate.ts";

export interface HoldResult {
  hold: Hold;
  balance: number;
}

interface HoldDeps {
  clock: Clock;
  inTransaction: <T>(work: (tx: LedgerStore) => Promise<T>) => Promise<T>;
}

// Holds (part of the credit service): credits reserved now, then captured in part or in full,
// released, or returned when the hold expires.
export function createHoldOperations(deps: HoldDeps) {
  return { hold: placing(deps), ...settling(deps) };
}

// Reserves credits for a while (a hold ledger row), once per key.
function placing({ clock, inTransaction }: HoldDeps) {
  return async function hold(input: {
    userId: string;
    amount: number;
    idempotencyKey: string;
    scope: IdempotencyScope;
    ttlSeconds?: number;
  }): Promise<HoldResult> {
    assertCredits(input.amount);
    assertIdempotencyKey(input.idempotencyKey);
    const ttlSeconds = input.ttlSeconds ?? HOLD_TTL_SECONDS.default;
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < HOLD_TTL_SECONDS.min || ttlSeconds > HOLD_TTL_SECONDS.max) {
      throw new InvalidInputError(`ttlSeconds must be from ${HOLD_TTL_SECONDS.min} to ${HOLD_TTL_SECONDS.max}`);
    }
    const key = clientKey(input.scope, input.idempotencyKey);
    return inTransaction(async (tx) => {
      if ((await tx.getBalance(input.userId)) === null) throw new NotFoundError("user");
      const id = randomUUID();
      // A hold made before keys were scoped answers its retries (no hold is written under a
      // legacy key any more, so this read cannot race an insert).
      const legacy = await tx.findHoldByKey(key.legacy);
      const created = legacy
        ? null
        : await tx.insertHold({
            id,
            userId: input.userId,
            amount: input.amount,
            idempotencyKey: key.key,
            expiresAt: new Date(clock.now().getTime() + ttlSeconds * 1000),
          });
      if (!created) {
        const existing = legacy ?? (await tx.findHoldByKey(key.key));
        if (!existing || existing.userId !== input.userId || existing.amount !== input.amount) {
          throw new IdempotencyConflictError();
        }
        const reserved = await tx.findEntryByKey(systemKey.holdReserve(existing.id));
        return { hold: existing, balance: reserved?.balanceAfter ?? (await balanceIn(tx, input.userId, clock.now())) };
      }
      const entry = await tx.post({
        userId: input.userId,
        amount: -input.amount,
        kind: "hold",
        idempotencyKey: systemKey.holdReserve(id),
        holdId: id,
        at: clock.now(),
      });
      if (!entry) throw await refusal(tx, input.userId, input.amount, clock.now());
      return { hold: created, balance: entry.balanceAfter };
    });
  };
}

function settling({ clock, inTransaction }: HoldDeps) {
  // Captures `amount` of an open hold (0 to the held amount) and returns the rest to the balance.
  // Capturing again with the same amount answers with the same hold (and today's balance).
  async function capture(holdId: string, amount: number): Promise<HoldResult> {
    assertCredits(amount, "amount", { allowZero: true });
    return settle(holdId, "captured", amount);
  }

  async function release(holdId: string): Promise<HoldResult> {
    return settle(holdId, "released", null);
  }

  async function settle(holdId: string, status: "captured" | "released", capturedAmount: number | null) {
    return inTransaction(async (tx) => {
      const found = await lockedHold(tx, holdId);
      if (!found) throw new NotFoundError("hold");
      const capturable = found.amount - found.clawedBack;
      // A settled hold answers below (the same settlement again, or 409), whatever the amount.
      if (found.status === "open" && capturedAmount !== null && capturedAmount > capturable) {
        const clawed = found.clawedBack > 0 ? ` (${found.clawedBack} of its ${found.amount} were taken back)` : "";
        throw new InvalidInputError(`cannot capture ${capturedAmount}: the hold is for ${capturable}${clawed}`);
      }
      const settled = await tx.settleHold(holdId, { status, capturedAmount, now: clock.now() });
      if (!settled) {
        // Read under the owner's lock, `found` is still the hold's state.
        if (found.status === status && found.capturedAmount === capturedAmount) {
          return { hold: found, balance: await balanceIn(tx, found.userId, clock.now()) };
        }
        const state = found.status === "open" ? "expired" : found.status;
        throw new InvalidStateError(`hold is ${state}`);
      }
      return { hold: settled, balance: await returnRest(tx, settled, clock) };
    });
  }

  // Returns the credits of holds past their expiry. Safe to run from several processes at once:
  // each batch locks its holds and skips those another sweeper holds.
  async function expireHolds(): Promise<number> {
    let expired = 0;
    for (;;) {
      const count = await inTransaction(async (tx) => {
        const now = clock.now();
        const due = await tx.lockExpiredHolds(now, HOLD_EXPIRY_BATCH);
        for (const due1 of due) {
          const settled = await tx.settleHold(due1.id, { status: "expired", capturedAmount: null, now });
          if (settled) await returnRest(tx, settled, clock);
        }
        return due.length;
      });
      expired += count;
      if (count < HOLD_EXPIRY_BATCH) return expired;
    }
  }

  return { capture, release, expireHolds };
}

// The hold, read after its owner's balance row is locked: the lock order of every path that
// touches a user's holds (clawbacks included), so what it says cannot change until we commit.
async function lockedHold(tx: LedgerStore, holdId: string): Promise<Hold | null> {
  const found = await tx.findHold(holdId);
  if (!found) return null;
  await tx.lockBalance(found.userId);
  return tx.findHold(holdId);
}

async function returnRest(tx: LedgerStore, settled: Hold, clock: Clock): Promise<number> {
  const rest = settled.amount - (settled.capturedAmount ?? 0) - settled.clawedBack;
  if (rest === 0) return balanceIn(tx, settled.userId, clock.now());
  const entry = await tx.post({
    userId: settled.userId,
    amount: rest,
    kind: "hold_release",
    idempotencyKey: systemKey.holdSettle(settled.id),
    holdId: settled.id,
    reason: settled.status === "expired" ? "hold expired" : null,
    at: clock.now(),
  });
  invariant(entry, `hold ${settled.id}: returning ${rest} credits failed`);
  // Not the row's balance_after: what returned to a grant past its expiry expired right after it.
  return balanceIn(tx, settled.userId, clock.now());
}
