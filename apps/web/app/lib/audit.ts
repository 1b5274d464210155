// The audit log's actions, as people read them.

export const auditActions = {
  adjust: "Adjustment applied",
  adjustment_requested: "Adjustment requested",
  adjustment_approved: "Adjustment approved",
  adjustment_rejected: "Adjustment rejected",
  adjustment_expired: "Adjustment expired",
  gdpr_erasure: "Erasure (GDPR)",
  reconciliation_run: "Reconciliation run",
} as const;

export const actionLabel = (action: string) => (auditActions as Record<string, string>)[action] ?? action;
