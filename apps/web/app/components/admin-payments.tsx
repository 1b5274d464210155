import type { RouterOutputs } from "@credits/api";
import { MAX_REASON_LENGTH } from "@credits/api/limits";
import { currencyExponent } from "@credits/api/money";
import { Form, Link } from "@remix-run/react";
import { formatCredits, formatDateTime, formatMoney } from "../lib/format.ts";
import { Alert, Badge, Button, EmptyState, Field } from "./ui.tsx";

type Payment = RouterOutputs["admin"]["user"]["payments"][number];
type Refund = Payment["refunds"][number];
type Messages = Partial<Record<string, string>>;

// What the last refund form sent, as its action answered it.
export interface RefundOutcome {
  ok: boolean;
  errors: Messages;
  values: { paymentId: string; scope: string; amount: string; reason: string; idempotencyKey: string };
  refund: Refund | null;
}

export const refundStatusLabels: Record<Refund["status"], string> = {
  pending: "Pending approval",
  processing: "Processing",
  succeeded: "Succeeded",
  failed: "Failed",
  rejected: "Rejected",
  expired: "Expired",
};
const refundTones: Record<Refund["status"], "warning" | "neutral" | "positive" | "negative"> = {
  pending: "warning",
  processing: "neutral",
  succeeded: "positive",
  failed: "negative",
  rejected: "negative",
  expired: "neutral",
};

const paymentTone = (status: string) =>
  status === "succeeded" || status === "credited" ? "positive" : status === "failed" ? "negative" : "neutral";

// A user's payments on the admin's page: each one's money (paid, refunded, left to refund), its
// refunds with who asked and who decided, and a refund form while something is left.
export function AdminPayments(props: {
  payments: Payment[];
  emails: Record<string, string>;
  me: string;
  refundKey: string;
  outcome: RefundOutcome | undefined;
  busyPaymentId: string | null;
}) {
  if (props.payments.length === 0)
    return <EmptyState title="No payments">This user has not bought credits.</EmptyState>;
  return (
    <ul className="space-y-4">
      {props.payments.map((p) => (
        <PaymentItem key={p.id} payment={p} {...props} />
      ))}
    </ul>
  );
}

function PaymentItem({
  payment: p,
  emails,
  me,
  refundKey,
  outcome,
  busyPaymentId,
}: Parameters<typeof AdminPayments>[0] & { payment: Payment }) {
  const mine = outcome?.values.paymentId === p.id ? outcome : undefined;
  const person = (id: string) => (id === me ? "you" : (emails[id] ?? id));
  return (
    <li
      className="rounded-2xl border border-slate-200 bg-white px-4 py-4 text-sm shadow-sm"
      data-testid="payment"
      aria-label={`Payment of ${formatMoney(p.amountMinor, p.currency)} on ${formatDateTime(p.createdAt)}`}
    >
      <div className="flex flex-wrap items-start justify-between gap-2">
        <span>
          <span className="block font-medium text-slate-900">
            {formatMoney(p.amountMinor, p.currency)} · {formatCredits(p.credits)}
          </span>
          <span className="block text-slate-500">{formatDateTime(p.createdAt)}</span>
          {p.amountDiscountMinor || p.amountTaxMinor ? (
            <span className="block text-slate-500" data-testid="payment-adjustments">
              Promotion code −{formatMoney(p.amountDiscountMinor ?? 0, p.currency)} · Tax{" "}
              {formatMoney(p.amountTaxMinor ?? 0, p.currency)}
            </span>
          ) : null}
          {p.dispute ? (
            <span className="block text-rose-700" data-testid="payment-dispute">
              {disputeLabels[p.dispute.status]}:{" "}
              {p.dispute.amountMinor === null ? "amount not recorded" : formatMoney(p.dispute.amountMinor, p.currency)}
            </span>
          ) : null}
          {p.reviewReason ? <span className="block text-amber-800">{p.reviewReason}</span> : null}
        </span>
        <Badge tone={paymentTone(p.status)}>{p.status}</Badge>
      </div>
      <dl className="mt-3 grid grid-cols-3 gap-2" data-testid="payment-amounts">
        <Amount label="Paid" value={formatMoney(p.amountPaidMinor, p.currency)} />
        <Amount label="Refunded" value={formatMoney(p.amountRefundedMinor, p.currency)} />
        <Amount label="Refundable" value={formatMoney(p.refundableMinor, p.currency)} />
      </dl>
      {p.refunds.length > 0 ? (
        <ul className="mt-3 divide-y divide-slate-100 border-t border-slate-100" aria-label="Refunds">
          {p.refunds.map((r) => (
            <li key={r.id} className="flex flex-wrap items-start justify-between gap-2 py-2" data-testid="refund">
              <span>
                <span className="block font-medium text-slate-900">{formatMoney(r.amount, r.currency)}</span>
                <span className="block text-slate-700">“{r.reason}”</span>
                <span className="block text-slate-500">
                  Requested by {person(r.requestedBy)} · {formatDateTime(r.createdAt)}
                  {r.decidedBy
                    ? ` · ${r.status === "rejected" ? "rejected" : "approved"} by ${person(r.decidedBy)}`
                    : ""}
                </span>
                {r.failureReason ? <span className="block text-rose-700">{r.failureReason}</span> : null}
              </span>
              <Badge tone={refundTones[r.status]}>{refundStatusLabels[r.status]}</Badge>
            </li>
          ))}
        </ul>
      ) : null}
      {mine?.ok && mine.refund ? <RefundResult refund={mine.refund} /> : null}
      {p.refundableMinor > 0 ? (
        <RefundForm payment={p} refundKey={refundKey} outcome={mine} busy={busyPaymentId === p.id} />
      ) : null}
    </li>
  );
}

const disputeLabels: Record<NonNullable<Payment["dispute"]>["status"], string> = {
  open: "Disputed by the payer (open)",
  won: "Dispute won",
  lost: "Dispute lost",
};

function Amount({ label, value }: { label: string; value: string }) {
  return (
    <div>
      <dt className="text-xs text-slate-500">{label}</dt>
      <dd className="font-semibold text-slate-900 tabular-nums">{value}</dd>
    </div>
  );
}

function RefundResult({ refund }: { refund: Refund }) {
  const amount = formatMoney(refund.amount, refund.currency);
  return (
    <div className="mt-3">
      {refund.status === "pending" ? (
        <Alert tone="warning" title="Waiting for approval">
          A refund of {amount} needs another admin's approval: it is in the{" "}
          <Link to="/admin/approvals" className="font-medium underline">
            approvals queue
          </Link>
          . Nothing was refunded yet.
        </Alert>
      ) : refund.status === "failed" ? (
        <Alert tone="error" title="The payment provider refused the refund">
          {refund.failureReason ?? "No money moved."}
        </Alert>
      ) : (
        <Alert tone="success" title="Refund sent">
          {amount} goes back to the customer; the credits it paid for are taken back.
        </Alert>
      )}
    </div>
  );
}

function RefundForm({
  payment: p,
  refundKey,
  outcome,
  busy,
}: {
  payment: Payment;
  refundKey: string;
  outcome: RefundOutcome | undefined;
  busy: boolean;
}) {
  const failed = outcome && !outcome.ok ? outcome : undefined;
  // After a failure the same key again: a resend of a refund the provider did not answer is the same refund.
  const key = failed?.values.idempotencyKey || refundKey;
  const code = p.currency.toUpperCase();
  const id = (name: string) => `refund-${p.id}-${name}`;
  return (
    <details className="mt-3 rounded-xl border border-slate-200 px-3 py-2" open={failed !== undefined}>
      <summary className="cursor-pointer font-medium text-indigo-700">Refund…</summary>
      <Form
        method="post"
        className="mt-3 space-y-3"
        aria-label={`Refund ${formatMoney(p.amountMinor, p.currency)}`}
        key={key}
      >
        <input type="hidden" name="intent" value="refund" />
        <input type="hidden" name="paymentId" value={p.id} />
        <input type="hidden" name="idempotencyKey" value={key} />
        {failed?.errors.form ? <Alert tone="error">{failed.errors.form}</Alert> : null}
        <fieldset className="flex flex-wrap gap-4">
          <legend className="sr-only">How much</legend>
          <label className="flex items-center gap-2">
            <input type="radio" name="scope" value="full" defaultChecked={failed?.values.scope !== "partial"} />
            Full: {formatMoney(p.refundableMinor, p.currency)}
          </label>
          <label className="flex items-center gap-2">
            <input type="radio" name="scope" value="partial" defaultChecked={failed?.values.scope === "partial"} />
            Partial
          </label>
        </fieldset>
        <Field
          id={id("amount")}
          label={`Amount (${code}, for a partial refund)`}
          name="amount"
          inputMode={currencyExponent(p.currency) === 0 ? "numeric" : "decimal"}
          autoComplete="off"
          placeholder={currencyExponent(p.currency) === 0 ? "500" : "12.50"}
          defaultValue={failed?.values.amount}
          error={failed?.errors.amount}
        />
        <Field
          id={id("reason")}
          label="Reason"
          name="reason"
          required
          maxLength={MAX_REASON_LENGTH}
          placeholder="Charged twice by mistake"
          hint="Kept in the audit log: no personal data."
          defaultValue={failed?.values.reason}
          error={failed?.errors.reason}
        />
        <Button type="submit" tone="danger" disabled={busy} pending={busy} pendingLabel="Refunding…">
          Refund
        </Button>
      </Form>
    </details>
  );
}
