import { RequestRefusedError } from "../errors.ts";
import { invariant } from "../invariant.ts";
import type { LedgerStore } from "../ledger.ts";
import { systemKey } from "../ledger-keys.ts";
import type { AdjustmentRequest } from "./store.ts";

// What an adjustment or a key's grant answers: applied, or filed as a request another admin decides.
export type AdjustResult =
  | { status: "applied"; transactionId: string; balance: number }
  | { status: "pending"; adjustmentRequest: AdjustmentRequest };

// A retry (same idempotency key, same body) of a filed request answers what became of it, not
// `pending` for ever (review9 F5): approved, the approval's ledger row, as a retry of an applied
// adjustment answers; rejected or expired, refused as such, so the caller knows nothing was or will
// be credited under this key (a 409, as for any key that cannot be used again). A pending request past its expiry can no longer be approved
// (decideAdjustmentRequest): expired, before the sweep marks it.
export async function answerOfFiled(ledger: LedgerStore, request: AdjustmentRequest, now: Date): Promise<AdjustResult> {
  if (request.status === "approved") {
    const entry = await ledger.findEntryByKey(systemKey.approvedAdjustment(request.id));
    invariant(entry, `approved adjustment request ${request.id} has no ledger row`);
    return { status: "applied", transactionId: entry.id, balance: entry.balanceAfter };
  }
  if (request.status === "rejected") throw new RequestRefusedError(request.id, "rejected");
  if (request.status === "expired" || request.expiresAt <= now) throw new RequestRefusedError(request.id, "expired");
  return { status: "pending", adjustmentRequest: request };
}
