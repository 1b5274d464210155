import { data, type MetaFunction, redirect } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { buttonClass, Card } from "../components/ui.tsx";
import { publicErrorOf } from "../lib/errors.server.ts";
import { formatCredits, formatDateTime } from "../lib/format.ts";
import { receiptMoneyRows } from "../lib/receipt.ts";
import { userRoute } from "../lib/route.server.ts";

export const meta: MetaFunction = () => [{ title: "Receipt · Credits" }];

// A paid payment's receipt, for its owner or an admin. A Stripe payment's receipt is Stripe's
// hosted page (the charge's receipt_url): this page sends the browser there. The local provider
// has none, nor has a Stripe payment a 100%-off promotion code made free (no charge): this page is
// their receipt.
export const loader = userRoute(async ({ params, api }) => {
  try {
    const receipt = await api.caller.checkout.receipt({ paymentId: params.paymentId ?? "" });
    if (receipt.hostedByProvider && receipt.receiptUrl) throw redirect(receipt.receiptUrl);
    return receipt;
  } catch (error) {
    const code = publicErrorOf(error)?.appCode;
    if (code === "NOT_FOUND" || code === "INVALID_INPUT") throw data("receipt not found", { status: 404 });
    throw error;
  }
});

export default function ReceiptPage() {
  const receipt = useLoaderData<typeof loader>();
  const rows: [string, string][] = [
    ["Pack", receipt.packageName],
    ["Credits", formatCredits(receipt.credits)],
    ...receiptMoneyRows(receipt),
    ["Date", formatDateTime(receipt.paidAt)],
    ["Payment", receipt.paymentId],
  ];
  return (
    <div className="mx-auto max-w-lg">
      <Card className="px-6 py-8">
        <h1 className="text-2xl font-bold text-slate-900">Receipt</h1>
        <dl className="mt-6 divide-y divide-slate-100 text-sm">
          {rows.map(([label, value]) => (
            <div key={label} className="flex justify-between gap-4 py-2">
              <dt className="text-slate-500">{label}</dt>
              <dd className="text-right font-medium break-all text-slate-900">{value}</dd>
            </div>
          ))}
        </dl>
        <div className="mt-8 flex flex-wrap gap-3">
          <Link to="/credits/history" className={buttonClass("secondary")}>
            Back to history
          </Link>
        </div>
      </Card>
    </div>
  );
}
