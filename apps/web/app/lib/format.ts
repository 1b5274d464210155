import type { RouterOutputs } from "@credits/api";

export type LedgerKind = RouterOutputs["credits"]["mine"]["transactions"][number]["kind"];

// Every kind the ledger knows (the Record makes the compiler insist on all of them).
export const kindLabels: Record<LedgerKind, string> = {
  purchase: "Purchase",
  spend: "Spend",
  grant: "Grant",
  hold: "Hold",
  hold_release: "Hold released",
  admin_adjustment: "Adjustment",
  refund_clawback: "Refund",
  refund_reversal: "Refund failed, credits returned",
  dispute_clawback: "Dispute",
  dispute_reversal: "Dispute reversed",
  expiry: "Expiry",
};

// Which kinds put credits back (shown green); a Record, so a new kind must be placed here too.
export const kindGivesCredits: Record<LedgerKind, boolean> = {
  purchase: true,
  spend: false,
  grant: true,
  hold: false,
  hold_release: true,
  admin_adjustment: false,
  refund_clawback: false,
  refund_reversal: true,
  dispute_clawback: false,
  dispute_reversal: true,
  expiry: false,
};

export const ledgerKinds = Object.keys(kindLabels) as LedgerKind[];

// Own keys only: `in` would also accept "constructor" or "toString" from a URL.
export const isLedgerKind = (value: string): value is LedgerKind => Object.hasOwn(kindLabels, value);

const integer = new Intl.NumberFormat("en");

export function formatCredits(amount: number): string {
  return `${integer.format(amount)} ${Math.abs(amount) === 1 ? "credit" : "credits"}`;
}

export function formatSigned(amount: number): string {
  return `${amount > 0 ? "+" : amount < 0 ? "−" : ""}${integer.format(Math.abs(amount))}`;
}

// Money is integer minor units with the currency's own exponent: the core's one formatter.
export { formatMoney } from "@credits/api/money";

// One fixed locale and time zone, so the server's HTML and the browser's hydration agree.
const dateTime = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });
const dateOnly = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeZone: "UTC" });

export const formatDateTime = (iso: string) => `${dateTime.format(new Date(iso))} UTC`;
export const formatDate = (iso: string) => dateOnly.format(new Date(iso));

export type GrantCategory = RouterOutputs["credits"]["mine"]["grants"][number]["category"];

// How a grant is named to people: by what kind of credits it holds.
export const grantCategoryLabels: Record<GrantCategory, string> = {
  paid: "Paid credits",
  promotional: "Promotional credits",
  adjustment: "Adjusted credits",
};

// "5 from Promotional credits, 2 from Paid credits": where a ledger row's credits came from or went,
// one part per kind of grant, in the order the row moved them.
export function allocationSummary(allocations: { amount: number; category: GrantCategory }[]): string {
  const totals = new Map<GrantCategory, number>();
  for (const a of allocations) totals.set(a.category, (totals.get(a.category) ?? 0) + Math.abs(a.amount));
  return [...totals]
    .map(([category, amount]) => `${integer.format(amount)} from ${grantCategoryLabels[category]}`)
    .join(", ");
}
