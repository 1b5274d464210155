import type { GrantAllocation, LedgerEntry, Posting } from "@credits/core";

// The ledger's rows as the posting statements return them (numbers may arrive as strings, times
// as strings on PGlite), mapped to the core's entries.

export interface BatchRow {
  ord: number;
  id: string;
  seq: string | number;
  balance_after: string | number;
  created_at: Date | string;
  // jsonb: parsed by both drivers; a string if a driver returns it raw.
  allocations: GrantAllocation[] | string;
}

export function fromBatchRow(posting: Posting, row: BatchRow): LedgerEntry {
  return {
    id: row.id,
    seq: Number(row.seq),
    userId: posting.userId,
    amount: posting.amount,
    balanceAfter: Number(row.balance_after),
    kind: posting.kind,
    idempotencyKey: posting.idempotencyKey,
    reason: posting.reason ?? null,
    paymentId: posting.paymentId ?? null,
    holdId: posting.holdId ?? null,
    adminActionId: posting.adminActionId ?? null,
    createdAt: new Date(row.created_at),
    allocations: typeof row.allocations === "string" ? JSON.parse(row.allocations) : row.allocations,
  };
}
