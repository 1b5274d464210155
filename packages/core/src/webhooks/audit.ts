import type { AuditAction } from "../admin/audit-actions.ts";
import type { NewAdminAction } from "../admin/store.ts";

export type WebhookAuditAction = Extract<AuditAction, `webhook_${string}`>;

// Audit rows name the host only: a URL's path or query may carry a token.
export const hostOf = (url: string) => new URL(url).host;

// An audit row about an endpoint (no target user, no amount).
export function auditRow(
  actorId: string | null,
  action: WebhookAuditAction,
  requestId: string | null,
  subject: { endpointId: string; detail?: Record<string, unknown> },
): NewAdminAction {
  return {
    actorId,
    targetUserId: null,
    action,
    amount: null,
    reason: null,
    requestId,
    balanceBefore: null,
    balanceAfter: null,
    adjustmentRequestId: null,
    detail: { endpointId: subject.endpointId, ...subject.detail },
  };
}
