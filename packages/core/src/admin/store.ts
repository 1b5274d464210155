import type { OutboxStore } from "../events/events.ts";
import type { GrantCategory } from "../grants.ts";
import type { LedgerStore } from "../ledger.ts";
import type { AuditAction } from "./audit-actions.ts";

export const adjustmentStatuses = ["pending", "approved", "rejected", "expired"] as const;
export type AdjustmentStatus = (typeof adjustmentStatuses)[number];

export interface AdminAction {
  id: string;
  actorId: string | null;
  targetUserId: string | null;
  action: string;
  amount: number | null;
  reason: string | null;
  requestId: string | null;
  balanceBefore: number | null;
  balanceAfter: number | null;
  adjustmentRequestId: string | null;
  // The API key the action was taken through or acted upon (its owner is the actor).
  apiKeyId: string | null;
  // Structured facts (a key's name, scopes and prefix; how a user was created); never secrets.
  detail: unknown;
  createdAt: Date;
}

// A write names one of the known actions (audit-actions.ts); rows read back keep whatever they say.
export type NewAdminAction = Omit<AdminAction, "id" | "createdAt" | "apiKeyId" | "detail" | "action"> & {
  action: AuditAction;
  id?: string;
  apiKeyId?: string | null;
  detail?: Record<string, unknown> | null;
};

// The audit row of a new account, one shape for every way one is made: the CLI (no admin behind
// it, actor null) and the first admin's /setup (the new admin is its own actor).
export function userCreatedAction(
  user: { id: string; role: string },
  via: "cli" | "setup",
  actorId: string | null,
): NewAdminAction {
  return {
    actorId,
    targetUserId: user.id,
    action: "user.created",
    amount: null,
    reason: null,
    requestId: null,
    balanceBefore: null,
    balanceAfter: null,
    adjustmentRequestId: null,
    detail: { via, role: user.role },
  };
}

export interface AdjustmentRequest {
  id: string;
  requestedBy: string;
  targetUserId: string;
  amount: number;
  reason: string;
  idempotencyKey: string;
  status: AdjustmentStatus;
  decidedBy: string | null;
  decidedAt: Date | null;
  expiresAt: Date;
  // The terms of the grant a credit creates when approved, as filed (null for a debit, and for
  // requests filed before grants: the defaults of an adjustment then).
  grantCategory: GrantCategory | null;
  grantPriority: number | null;
  grantExpiresAt: Date | null;
  createdAt: Date;
}

export interface AuditQuery {
  actorId?: string;
  targetUserId?: string;
  action?: string;
  from?: Date;
  to?: Date;
  // Keyset: rows strictly older than this (createdAt, id).
  before?: { createdAt: Date; id: string };
  limit: number;
}

export interface UserSummary {
  id: string;
  email: string | null;
  name: string | null;
  role: "user" | "admin";
  balance: number;
  disputedAt: Date | null;
  erasedAt: Date | null;
  createdAt: Date;
}

export interface DailyTotals {
  day: string;
  purchased: number;
  spent: number;
  adjusted: number;
  clawedBack: number;
  revenueMinor: Record<string, number>;
}

export interface AdminTx {
  admin: AdminStore;
  ledger: LedgerStore;
  outbox: OutboxStore;
}

export interface AdminStore {
  transaction<T>(work: (tx: AdminTx) => Promise<T>): Promise<T>;
  insertAction(action: NewAdminAction): Promise<AdminAction>;
  // Null when the idempotency key is taken.
  insertAdjustmentRequest(
    request: Pick<
      AdjustmentRequest,
      | "requestedBy"
      | "targetUserId"
      | "amount"
      | "reason"
      | "idempotencyKey"
      | "expiresAt"
      | "grantCategory"
      | "grantPriority"
      | "grantExpiresAt"
    >,
  ): Promise<AdjustmentRequest | null>;
  findAdjustmentRequest(id: string): Promise<AdjustmentRequest | null>;
  findAdjustmentRequestByKey(key: string): Promise<AdjustmentRequest | null>;
  // The credits (absolute amounts) moved to or from `userId` within the last `windowMs` (by the
  // database's clock, which stamps the ledger) by adjustments and API-key grants applied without a
  // second admin (approval-window.ts): one total, as a key grant is its owner's adjustment. A key's
  // daily limits are optional and per key, so they cannot stand in for it.
  unapprovedAdjustmentTotal(userId: string, windowMs: number): Promise<number>;
  // Moves a pending, unexpired request to `status` in one conditional statement; null otherwise.
  decideAdjustmentRequest(
    id: string,
    decision: { status: "approved" | "rejected"; decidedBy: string; now: Date },
  ): Promise<AdjustmentRequest | null>;
  expireAdjustmentRequests(now: Date): Promise<AdjustmentRequest[]>;
  listAdjustmentRequests(query: { status?: AdjustmentStatus; limit: number }): Promise<AdjustmentRequest[]>;
  listActions(query: AuditQuery): Promise<AdminAction[]>;
  searchUsers(query: string, limit: number): Promise<UserSummary[]>;
  getUserSummary(userId: string): Promise<UserSummary | null>;
  dailyTotals(from: Date, to: Date): Promise<DailyTotals[]>;
}
