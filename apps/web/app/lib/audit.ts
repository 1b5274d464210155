// The audit log's actions, as people read them: a Record over core's one list of actions
// (AuditAction), so an action without a label fails typecheck.
import type { AuditAction } from "@credits/api";

export const auditActions: Record<AuditAction, string> = {
  adjust: "Adjustment applied",
  adjustment_requested: "Adjustment requested",
  adjustment_approved: "Adjustment approved",
  adjustment_rejected: "Adjustment rejected",
  adjustment_expired: "Adjustment expired",
  "api_key.created": "API key created",
  "api_key.revoked": "API key revoked",
  "api_key.grant": "Grant through an API key",
  "user.created": "User created (CLI or /setup)",
  gdpr_erasure: "Erasure (GDPR)",
  reconciliation_run: "Reconciliation run",
  "ledger_break.acknowledged": "Ledger chain break acknowledged",
  "ledger_break.requested": "Ledger chain break sent to a second admin",
  "ledger_break.approved": "Ledger chain break accepted by a second admin",
  "package.created": "Pack created",
  "package.updated": "Pack changed",
  "package.archived": "Pack archived",
  "package.approved": "Pack approved",
  refund_requested: "Refund requested",
  refund_approved: "Refund approved",
  refund_rejected: "Refund rejected",
  refund_expired: "Refund request expired",
  refund_succeeded: "Refund succeeded",
  refund_failed: "Refund failed",
  "payment.promotion_applied": "Promotion code applied",
  "payment.promotion_review": "Promotion code flagged for review",
  "payment.paid_after_cancel": "Paid after canceling (flagged)",
  "auto_topup.turned_off": "Auto top-up turned off",
  "auto_topup.card_removed": "Saved card removed",
  "auto_topup.card_detach_failed": "Saved card's removal at Stripe failed",
  "webhook_endpoint.created": "Webhook endpoint created",
  "webhook_endpoint.secret_rotated": "Webhook secret rotated",
  "webhook_endpoint.enabled": "Webhook endpoint enabled",
  "webhook_endpoint.disabled": "Webhook endpoint disabled",
  "webhook_endpoint.deleted": "Webhook endpoint deleted",
  "webhook_endpoint.auto_disabled": "Webhook endpoint disabled after failures",
  "webhook_delivery.replayed": "Webhook delivery replayed",
};

// Own keys only: `in` and a plain lookup also find the prototype's ("constructor", "toString").
export const isAuditAction = (action: string): action is AuditAction => Object.hasOwn(auditActions, action);

export const actionLabel = (action: string) => (isAuditAction(action) ? auditActions[action] : action);
