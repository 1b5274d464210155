import type { RouterOutputs } from "@credits/api";
import { Link } from "@remix-run/react";
import { formatCredits, formatDateTime, formatMoney } from "../lib/format.ts";
import { Badge } from "./ui.tsx";

type Payment = RouterOutputs["checkout"]["payments"]["payments"][number];

// The user's paid payments, each with its receipt (our /receipts page, which sends Stripe's
// payments on to Stripe's hosted receipt).
export function PaymentList({ payments }: { payments: Payment[] }) {
  const paid = payments.filter((p) => p.credited);
  if (paid.length === 0) return null;
  return (
    <section className="mt-10" aria-labelledby="payments-heading">
      <h2 id="payments-heading" className="mb-3 text-lg font-semibold text-slate-900">
        Purchases
      </h2>
      <div className="overflow-x-auto rounded-2xl border border-slate-200 bg-white shadow-sm">
        <table className="w-full text-left text-sm">
          <thead className="bg-slate-50 text-xs font-semibold tracking-wide text-slate-500 uppercase">
            <tr>
              <th scope="col" className="px-4 py-3">
                Date
              </th>
              <th scope="col" className="px-4 py-3">
                Credits
              </th>
              <th scope="col" className="px-4 py-3 text-right">
                Paid
              </th>
              <th scope="col" className="px-4 py-3 text-right">
                Receipt
              </th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {paid.map((p) => (
              <tr key={p.id}>
                <td className="px-4 py-3 text-slate-600 sm:whitespace-nowrap">
                  <time dateTime={p.createdAt}>{formatDateTime(p.createdAt)}</time>
                </td>
                <td className="px-4 py-3">
                  {formatCredits(p.credits)}{" "}
                  {p.status !== "paid" ? <Badge tone="neutral">{p.status.replaceAll("_", " ")}</Badge> : null}
                </td>
                <td className="px-4 py-3 text-right whitespace-nowrap tabular-nums">
                  {formatMoney(p.amountPaidMinor ?? p.amountMinor, p.currency)}
                  {p.amountDiscountMinor ? (
                    <span className="block text-xs text-slate-500" data-testid="payment-discount">
                      {formatMoney(p.amountMinor, p.currency)} less promotion code −
                      {formatMoney(p.amountDiscountMinor, p.currency)}
                    </span>
                  ) : null}
                </td>
                <td className="px-4 py-3 text-right">
                  <Link to={`/receipts/${p.id}`} className="font-medium text-indigo-700 underline">
                    Receipt
                  </Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
