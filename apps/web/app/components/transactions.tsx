import type { RouterOutputs } from "@credits/api";
import {
  allocationSummary,
  formatCredits,
  formatDateTime,
  formatSigned,
  kindGivesCredits,
  kindLabels,
} from "../lib/format.ts";
import { Badge, cx } from "./ui.tsx";

type Transaction = RouterOutputs["credits"]["mine"]["transactions"][number];

export function KindBadge({ kind }: { kind: Transaction["kind"] }) {
  return <Badge tone={kindGivesCredits[kind] ? "positive" : "neutral"}>{kindLabels[kind]}</Badge>;
}

// The ledger rows as a table; at phone width the description moves under the kind.
export function TransactionList({ transactions, caption }: { transactions: Transaction[]; caption?: string }) {
  return (
    <div className="overflow-x-auto rounded-2xl border border-slate-200 bg-white shadow-sm">
      <table className="w-full text-left text-sm">
        {caption ? <caption className="sr-only">{caption}</caption> : null}
        <thead className="bg-slate-50 text-xs font-semibold tracking-wide text-slate-500 uppercase">
          <tr>
            <th scope="col" className="px-4 py-3">
              Date
            </th>
            <th scope="col" className="px-4 py-3">
              Activity
            </th>
            <th scope="col" className="px-4 py-3 text-right">
              Amount
            </th>
            <th scope="col" className="hidden px-4 py-3 text-right sm:table-cell">
              Balance
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {transactions.map((t) => (
            <tr key={t.id} className="align-top">
              <td className="px-4 py-3 text-slate-600 sm:whitespace-nowrap">
                <time dateTime={t.createdAt}>{formatDateTime(t.createdAt)}</time>
              </td>
              <td className="px-4 py-3">
                <KindBadge kind={t.kind} />
                {t.reason ? <p className="mt-1 text-slate-600">{t.reason}</p> : null}
                {t.amount < 0 && t.allocations.length > 0 ? (
                  <p className="mt-1 text-xs text-slate-500" data-testid="allocations">
                    {allocationSummary(t.allocations)}
                  </p>
                ) : null}
              </td>
              <td
                className={cx(
                  "px-4 py-3 text-right font-semibold whitespace-nowrap tabular-nums",
                  t.amount > 0 ? "text-emerald-700" : "text-slate-900",
                )}
              >
                <span className="sr-only">{t.amount > 0 ? "added " : "used "}</span>
                {formatSigned(t.amount)}
              </td>
              <td className="hidden px-4 py-3 text-right whitespace-nowrap text-slate-600 tabular-nums sm:table-cell">
                {formatCredits(t.balanceAfter)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
