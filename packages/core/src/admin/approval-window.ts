import type { AdminStore } from "./store.ts";

// The approval threshold bounds what admins move to or from one user on their own in all, not
// each move: adjustments and API-key grants applied without a second admin within the window,
// this one included, above the threshold make this one a request, as one large adjustment would
// be (review finding 9, ADR 023; refunds got the same rule per payment, ADR 016). Called under the
// user's balance lock, so two concurrent small moves cannot both see room for themselves.
export async function exceedsApprovalWindow(
  admin: AdminStore,
  move: { userId: string; amount: number },
  rule: { approvalThreshold: number; approvalWindowMs: number },
): Promise<boolean> {
  const recent = await admin.unapprovedAdjustmentTotal(move.userId, rule.approvalWindowMs);
  return recent + Math.abs(move.amount) > rule.approvalThreshold;
}
