import type { RouterOutputs } from "@credits/api";
import { Form, Link } from "@remix-run/react";
import { formatDateTime, formatMoney } from "../lib/format.ts";
import { Badge, Button, EmptyState } from "./ui.tsx";

type Refund = RouterOutputs["admin"]["refundApprovals"]["refunds"][number];

// Refunds above the approval threshold (or to their requester), waiting for a second admin.
// The server refuses a decision by the requester or by the person the money goes to: neither
// gets buttons, and a decision sent anyway comes back as the page's error.
export function RefundApprovals({
  refunds,
  emails,
  me,
  busyId,
  busyIntent,
}: {
  refunds: Refund[];
  emails: Record<string, string>;
  me: string;
  busyId: string | null;
  busyIntent: string | null;
}) {
  if (refunds.length === 0) {
    return (
      <EmptyState title="No refunds to decide">
        Refunds above the approval threshold wait here for a second admin.
      </EmptyState>
    );
  }
  return (
    <ul className="space-y-3" aria-label="Pending refunds">
      {refunds.map((r) => {
        const mine = r.requestedBy === me;
        const forMe = r.userId === me;
        const payee = emails[r.userId] ?? r.userId;
        const amount = formatMoney(r.amount, r.currency);
        const busy = busyId === r.id;
        return (
          <li
            key={r.id}
            className="flex flex-wrap items-start justify-between gap-4 rounded-2xl border border-slate-200 bg-white px-4 py-4 shadow-sm"
            data-testid="refund-approval"
          >
            <div className="min-w-0">
              <p className="flex flex-wrap items-baseline gap-2">
                <span className="text-xl font-bold text-slate-900 tabular-nums">{amount}</span>
                <span className="text-slate-600">refund to</span>
                <Link
                  to={`/admin/users/${r.userId}`}
                  className="font-medium break-all text-indigo-700 underline-offset-4 hover:underline"
                >
                  {payee}
                </Link>
              </p>
              <p className="mt-1 text-slate-800">“{r.reason}”</p>
              <p className="mt-1 text-sm text-slate-500">
                Requested by {mine ? "you" : (emails[r.requestedBy] ?? r.requestedBy)} · {formatDateTime(r.createdAt)} ·
                expires {formatDateTime(r.expiresAt)}
              </p>
            </div>
            {mine || forMe ? (
              <Badge tone="warning">{mine ? "Waiting for another admin" : "To you: another admin decides"}</Badge>
            ) : (
              <Form method="post" className="flex gap-2">
                <input type="hidden" name="kind" value="refund" />
                <input type="hidden" name="id" value={r.id} />
                <Button
                  type="submit"
                  name="intent"
                  value="approve"
                  disabled={busy}
                  pending={busy && busyIntent === "approve"}
                  pendingLabel="Approving…"
                  aria-label={`Approve the refund of ${amount} to ${payee}`}
                >
                  Approve
                </Button>
                <Button
                  type="submit"
                  tone="secondary"
                  name="intent"
                  value="reject"
                  disabled={busy}
                  pending={busy && busyIntent === "reject"}
                  pendingLabel="Rejecting…"
                  aria-label={`Reject the refund of ${amount} to ${payee}`}
                >
                  Reject
                </Button>
              </Form>
            )}
          </li>
        );
      })}
    </ul>
  );
}
