import type { LedgerEntry, LedgerKind, Posting } from "@credits/core";

// The ledger's rows as the posting statements return them (numbers may arrive as strings, times
// as strings on PGlite), mapped to the core's entries.

export interface PostedRow {
  id: string;
  seq: string | number;
  user_id: string;
  amount: string | number;
  balance_after: string | number;
  kind: LedgerKind;
  idempotency_key: string;
  reason: string | null;
  payment_id: string | null;
  hold_id: string | null;
  admin_action_id: string | null;
  created_at: Date | string;
}

export interface BatchRow {
  ord: number;
  id: string;
  seq: string | number;
  balance_after: string | number;
  created_at: Date | string;
}

export function fromBatchRow(posting: Posting, row: BatchRow): LedgerEntry {
  return fromPostedRow({
    id: row.id,
    seq: row.seq,
    user_id: posting.userId,
    amount: posting.amount,
    balance_after: row.balance_after,
    kind: posting.kind,
    idempotency_key: posting.idempotencyKey,
    reason: posting.reason ?? null,
    payment_id: null,
    hold_id: null,
    admin_action_id: null,
    created_at: row.created_at,
  });
}

export function fromPostedRow(row: PostedRow): LedgerEntry {
  return {
    id: row.id,
    seq: Number(row.seq),
    userId: row.user_id,
    amount: Number(row.amount),
    balanceAfter: Number(row.balance_after),
    kind: row.kind,
    idempotencyKey: row.idempotency_key,
    reason: row.reason,
    paymentId: row.payment_id,
    holdId: row.hold_id,
    adminActionId: row.admin_action_id,
    createdAt: new Date(row.created_at),
  };
}
