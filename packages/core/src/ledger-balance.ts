import { InsufficientCreditsError, NotFoundError } from "./errors.ts";
import type { LedgerStore } from "./ledger.ts";

// The balance for an answer: an unknown user is a 404.
export async function balanceIn(store: LedgerStore, userId: string, at: Date): Promise<number> {
  const current = await store.getBalance(userId, at);
  if (current === null) throw new NotFoundError("user");
  return current;
}

// Why a posting was not applied: the user is unknown, or has too little credit.
export async function refusal(store: LedgerStore, userId: string, requested: number, at?: Date): Promise<Error> {
  const current = await store.getBalance(userId, at);
  if (current === null) return new NotFoundError("user");
  return new InsufficientCreditsError(current, requested);
}
