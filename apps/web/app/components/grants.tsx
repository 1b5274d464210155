import type { RouterOutputs } from "@credits/api";
import { formatCredits, formatDate, type GrantCategory, grantCategoryLabels } from "../lib/format.ts";
import { Badge, Field } from "./ui.tsx";

type Credits = RouterOutputs["credits"]["mine"];
type AdminGrant = RouterOutputs["admin"]["user"]["grants"][number];

const grantCategories = Object.keys(grantCategoryLabels) as GrantCategory[];

// Under the balance: what it is made of (live grants, in the order they are spent) and the next
// credits to expire.
export function BalanceBreakdown({ grants, nextExpiry }: Pick<Credits, "grants" | "nextExpiry">) {
  if (grants.length === 0) return null;
  return (
    <div className="mt-4 space-y-2 text-sm text-indigo-50">
      {nextExpiry ? (
        <p className="font-medium text-white" data-testid="next-expiry">
          {formatCredits(nextExpiry.amount)} expire on {formatDate(nextExpiry.at)}
        </p>
      ) : null}
      <ul aria-label="Your credits, in the order they are used" data-testid="grant-breakdown" className="space-y-1">
        {grants.map((g) => (
          <li key={g.id} className="flex justify-between gap-4">
            <span>{grantCategoryLabels[g.category]}</span>
            <span className="tabular-nums">
              {formatCredits(g.remaining)}
              {g.expiresAt ? ` · until ${formatDate(g.expiresAt)}` : ""}
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}

function grantState(g: AdminGrant) {
  if (g.expiredAt) return <Badge tone="warning">Expired</Badge>;
  if (g.remaining === 0) return <Badge>Used</Badge>;
  return <Badge tone="positive">Live</Badge>;
}

// The admin's view of a user's grants, live and past, newest first.
export function GrantTable({ grants }: { grants: AdminGrant[] }) {
  return (
    <div className="overflow-x-auto rounded-2xl border border-slate-200 bg-white shadow-sm">
      <table className="w-full text-left text-sm" data-testid="grant-table">
        <caption className="sr-only">Grants</caption>
        <thead className="bg-slate-50 text-xs font-semibold tracking-wide text-slate-500 uppercase">
          <tr>
            <th scope="col" className="px-4 py-3">
              Category
            </th>
            <th scope="col" className="px-4 py-3 text-right">
              Priority
            </th>
            <th scope="col" className="px-4 py-3 text-right">
              Remaining
            </th>
            <th scope="col" className="px-4 py-3">
              Expires
            </th>
            <th scope="col" className="px-4 py-3">
              State
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {grants.map((g) => (
            <tr key={g.id}>
              <td className="px-4 py-3">{grantCategoryLabels[g.category]}</td>
              <td className="px-4 py-3 text-right tabular-nums">{g.priority}</td>
              <td className="px-4 py-3 text-right tabular-nums">
                {g.remaining} of {formatCredits(g.amount)}
              </td>
              <td className="px-4 py-3">{g.expiresAt ? formatDate(g.expiresAt) : "Never"}</td>
              <td className="px-4 py-3">{grantState(g)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

// The adjust form's optional grant terms (they apply to a credit only).
export function GrantTermsFields({
  values,
  errors,
}: {
  values: { category?: string; expiresOn?: string } | null | undefined;
  errors: Partial<Record<"category" | "expiresAt", string>> | undefined;
}) {
  return (
    <>
      <div>
        <label htmlFor="field-category" className="block text-sm font-medium text-slate-800">
          Category (credits only)
        </label>
        <select
          id="field-category"
          name="category"
          defaultValue={values?.category ?? ""}
          aria-invalid={errors?.category ? true : undefined}
          className="mt-1.5 block h-11 w-full rounded-lg border border-slate-300 bg-white px-3 text-slate-900"
        >
          <option value="">Adjustment (default)</option>
          {grantCategories.map((c) => (
            <option key={c} value={c}>
              {grantCategoryLabels[c]}
            </option>
          ))}
        </select>
        {errors?.category ? <p className="mt-1.5 text-sm font-medium text-rose-700">{errors.category}</p> : null}
      </div>
      <Field
        label="Expires on (optional)"
        name="expiresOn"
        type="date"
        hint="Credits only: unspent credits expire at the end of this day (UTC)."
        defaultValue={values?.expiresOn}
        error={errors?.expiresAt}
      />
    </>
  );
}
