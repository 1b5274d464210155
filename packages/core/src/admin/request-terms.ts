import { resolveGrantTerms } from "../grant-terms.ts";
import type { GrantTerms } from "../grants.ts";
import type { AdjustmentRequest } from "./store.ts";

type TermColumns = Pick<AdjustmentRequest, "grantCategory" | "grantPriority" | "grantExpiresAt">;

// A pending request keeps the terms it was filed with, so the approval applies exactly them.
export function termColumns(terms: GrantTerms | null): TermColumns {
  return {
    grantCategory: terms?.category ?? null,
    grantPriority: terms?.priority ?? null,
    grantExpiresAt: terms?.expiresAt ?? null,
  };
}

// The terms a request's credit is applied with; null for a debit. A request filed before grants
// has no terms stored: an adjustment's defaults.
export function termsOfRequest(request: AdjustmentRequest): GrantTerms | null {
  if (request.amount < 0) return null;
  return resolveGrantTerms("admin_adjustment", {
    ...(request.grantCategory ? { category: request.grantCategory } : {}),
    ...(request.grantPriority !== null ? { priority: request.grantPriority } : {}),
    expiresAt: request.grantExpiresAt,
  });
}
