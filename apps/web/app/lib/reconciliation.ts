// How reconciliation runs read on the admin pages.
import type { RouterOutputs } from "@credits/api";

type FindingKind = RouterOutputs["reconciliation"]["run"]["findings"][number]["kind"];

export const statusTone = (status: string) =>
  status === "succeeded" ? ("positive" as const) : status === "failed" ? ("negative" as const) : ("warning" as const);

export function statEntries(stats: Record<string, unknown> | null): [string, string][] {
  if (!stats) return [];
  return Object.entries(stats)
    .filter(([, v]) => ["number", "string", "boolean"].includes(typeof v))
    .map(([k, v]) => [
      k
        .replace(/([a-z])([A-Z])/g, "$1 $2")
        .replace(/_/g, " ")
        .toLowerCase(),
      String(v),
    ]);
}

// What each finding kind means, the one table of it (the run page shows it beside each finding).
// The Record makes the compiler insist on every kind the API reports.
const kindCopy: Record<FindingKind, { label: string; text: string }> = {
  missing_credit: { label: "Missing credit", text: "Paid at the provider, not credited here (healed automatically)." },
  unexpected_credit: {
    label: "Unexpected credit",
    text: "Credited here, but unpaid or unknown at the provider: decide.",
  },
  refund_not_clawed_back: {
    label: "Refund not clawed back",
    text: "The provider refunded more than recorded (healed).",
  },
  refund_failure_not_reversed: {
    label: "Refund failure not reversed",
    text: "A refund failed at the provider after it was counted; the credits were given back (healed).",
  },
  refund_unanswered: {
    label: "Refund unanswered",
    text: "A refund sent from the panel never got the provider's answer; settled from the provider's record (healed).",
  },
  amount_mismatch: { label: "Amount mismatch", text: "Amount or currency differs from the provider's: decide." },
  ledger_invariant: {
    label: "Ledger invariant",
    text: "A balance differs from its ledger, a ledger row does not follow the one before it (chainBrokenAtSeq), or the grants do not add up: look.",
  },
  paid_after_cancel: {
    label: "Paid after cancel",
    text: "Paid after its checkout was canceled: credited and flagged for review; check with the customer (a refund, most likely).",
  },
};

// A kind this page does not know yet (the API's kinds are an open set, ADR 018) shows as it is.
export const findingCopy = (kind: string): { label: string; text: string } =>
  Object.hasOwn(kindCopy, kind) ? kindCopy[kind as FindingKind] : { label: kind, text: "" };
