import { GRANT_PRIORITY } from "./limits.ts";

// Credit grants (ADR 009): a user's balance is made of blocks of credits, each with a category, a
// priority (lower is spent first), an optional expiry and what is left of it. The ledger row of a
// balance change records which grants it moved (its allocations).

export const grantCategories = ["paid", "promotional", "adjustment"] as const;
export type GrantCategory = (typeof grantCategories)[number];

// Where a grant came from: a purchase, an admin adjustment, an API grant, or the balance a user
// had when grants were introduced (also what a hold opened before then gives back).
export const grantSources = ["payment", "admin", "api", "migration"] as const;
export type GrantSource = (typeof grantSources)[number];

export interface GrantTerms {
  category: GrantCategory;
  priority: number;
  expiresAt: Date | null;
}

export interface CreditGrant {
  id: string;
  userId: string;
  category: GrantCategory;
  priority: number;
  amount: number;
  remaining: number;
  expiresAt: Date | null;
  createdAt: Date;
  source: GrantSource;
  paymentId: string | null;
  // Set when its remainder was recorded as expired (by the sweeper or by the next posting).
  expiredAt: Date | null;
}

// What one ledger row moved on one grant (negative: taken from it), with the grant's labels so
// history can say where credits came from without a query per row.
export interface GrantAllocation {
  grantId: string;
  amount: number;
  category: GrantCategory;
  source: GrantSource;
}

export interface GrantsView<G extends GrantRemainder = CreditGrant> {
  // Live grants (remaining > 0, not past expiry), in spending order.
  grants: G[];
  // The earliest expiry among live grants and how many credits it takes.
  nextExpiry: { amount: number; at: Date } | null;
}

const defaultCategory: Partial<Record<string, GrantCategory>> = {
  purchase: "paid",
  grant: "promotional",
  admin_adjustment: "adjustment",
};

// The grant a posting creates, if any: a credit of a kind that makes new credits, with its terms
// or the kind's defaults.
export function grantTermsOf(posting: {
  kind: string;
  amount: number;
  grant?: Partial<GrantTerms> | undefined;
}): GrantTerms | null {
  const category = defaultCategory[posting.kind];
  if (!category || posting.amount <= 0) return null;
  return {
    category: posting.grant?.category ?? category,
    priority: posting.grant?.priority ?? GRANT_PRIORITY.default,
    expiresAt: posting.grant?.expiresAt ?? null,
  };
}

export function sameTerms(a: GrantTerms, b: GrantTerms): boolean {
  return (
    a.category === b.category &&
    a.priority === b.priority &&
    (a.expiresAt?.getTime() ?? null) === (b.expiresAt?.getTime() ?? null)
  );
}

// What the next expiry is computed from.
type GrantRemainder = Pick<CreditGrant, "remaining" | "expiresAt">;

// The view of a user's live grants: the grants as listed, and the earliest expiry among them.
export function grantsView<G extends GrantRemainder>(live: G[]): GrantsView<G> {
  let next: { amount: number; at: Date } | null = null;
  for (const grant of live) {
    if (!grant.expiresAt) continue;
    if (!next || grant.expiresAt < next.at) next = { amount: grant.remaining, at: grant.expiresAt };
    else if (grant.expiresAt.getTime() === next.at.getTime()) next.amount += grant.remaining;
  }
  return { grants: live, nextExpiry: next };
}
