// The audit log's actions, as people read them.

export const auditActions = {
  adjust: "Adjustment applied",
  adjustment_requested: "Adjustment requested",
  adjustment_approved: "Adjustment approved",
  adjustment_rejected: "Adjustment rejected",
  adjustment_expired: "Adjustment expired",
  gdpr_erasure: "Erasure (GDPR)",
  reconciliation_run: "Reconciliation run",
  "ledger_break.acknowledged": "Ledger chain break acknowledged",
  "api_key.created": "API key created",
  "api_key.revoked": "API key revoked",
  "api_key.grant": "Grant through an API key",
  "user.created": "User created (CLI or /setup)",
} as const;

export const actionLabel = (action: string) => (auditActions as Record<string, string>)[action] ?? action;
