// Every action an audit row (admin_actions) may name: one list, so a write naming anything else
// fails typecheck, and the panel's labels (apps/web/app/lib/audit.ts, a Record over this type)
// cannot miss one. A new action is added here first.
export const auditActions = [
  // Adjustments and their two-admin approvals (ADR 023).
  "adjust",
  "adjustment_requested",
  "adjustment_approved",
  "adjustment_rejected",
  "adjustment_expired",
  // API keys.
  "api_key.created",
  "api_key.revoked",
  "api_key.grant",
  // Accounts.
  "user.created",
  "gdpr_erasure",
  // Reconciliation.
  "reconciliation_run",
  "ledger_break.acknowledged",
  "ledger_break.requested",
  "ledger_break.approved",
  // The catalogue (issue 15).
  "package.created",
  "package.updated",
  "package.archived",
  "package.approved",
  // Refunds from the panel and their approvals (ADR 016).
  "refund_requested",
  "refund_approved",
  "refund_rejected",
  "refund_expired",
  "refund_succeeded",
  "refund_failed",
  // Payments the system flagged or noted (ADR 021).
  "payment.promotion_applied",
  "payment.promotion_review",
  "payment.paid_after_cancel",
  // Auto top-up's saved card (ADR 019).
  "auto_topup.turned_off",
  "auto_topup.card_removed",
  "auto_topup.card_detach_failed",
  // Outbound webhooks.
  "webhook_endpoint.created",
  "webhook_endpoint.secret_rotated",
  "webhook_endpoint.enabled",
  "webhook_endpoint.disabled",
  "webhook_endpoint.deleted",
  "webhook_endpoint.auto_disabled",
  "webhook_delivery.replayed",
] as const;

export type AuditAction = (typeof auditActions)[number];

// The audit rows a user's window totals are summed from, named from the list above so a renamed
// action fails typecheck here rather than silently leaving the sum at 0: what one admin moved for
// a user alone (the row's amount: adjustments and key grants applied without a second admin, ADR
// 023, and breaks' jumps accepted by one admin, ADR 012; approved ones have their own actions),
// and discounted purchases (ADR 021, F7).
export const unapprovedGrantActions = [
  "adjust",
  "api_key.grant",
  "ledger_break.acknowledged",
] as const satisfies readonly AuditAction[];
export const promotionActions = [
  "payment.promotion_applied",
  "payment.promotion_review",
] as const satisfies readonly AuditAction[];
