import { data, type MetaFunction } from "@remix-run/node";
import { Form, Link, type useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { RefundApprovals } from "../components/refund-approvals.tsx";
import { Alert, Badge, Button, EmptyState, PageHeader } from "../components/ui.tsx";
import { useActionResult } from "../lib/action-result.ts";
import { emailsFor, isUuid } from "../lib/admin.server.ts";
import type { Api } from "../lib/api.server.ts";
import { formFailure } from "../lib/errors.server.ts";
import { formatCredits, formatDateTime, formatMoney, formatSigned, grantCategoryLabels } from "../lib/format.ts";
import { textField } from "../lib/forms.ts";
import { adminRoute } from "../lib/route.server.ts";

export const meta: MetaFunction = () => [{ title: "Approvals · Admin · Credits" }];

export const loader = adminRoute(async ({ api, user }) => {
  const [{ adjustments }, { refunds }] = await Promise.all([
    api.caller.admin.approvals(),
    api.caller.admin.refundApprovals(),
  ]);
  const emails = await emailsFor(api, [
    ...adjustments.flatMap((a) => [a.requestedBy, a.targetUserId]),
    ...refunds.flatMap((r) => [r.requestedBy, r.userId]),
  ]);
  return { adjustments, refunds, emails, me: user.id };
});

export const action = adminRoute(async ({ request, api }) => {
  const form = await request.formData();
  const intent = textField(form, "intent") === "reject" ? ("reject" as const) : ("approve" as const);
  const id = textField(form, "id");
  if (!isUuid(id))
    return data(
      { kind: null, intent, id, ok: false as const, balance: null, refund: null, error: "This request is unknown." },
      400,
    );
  if (textField(form, "kind") === "refund") return decideRefund(api, intent, id);
  try {
    if (intent === "approve") {
      const result = await api.caller.admin.approve({ id });
      return {
        kind: "adjustment" as const,
        intent,
        id,
        ok: true as const,
        balance: result.balance,
        refund: null,
        error: null,
      };
    }
    await api.caller.admin.reject({ id });
    return { kind: "adjustment" as const, intent, id, ok: true as const, balance: null, refund: null, error: null };
  } catch (error) {
    const failure = formFailure(error, "decide");
    if (!failure) throw error;
    return data(
      {
        kind: "adjustment" as const,
        intent,
        id,
        ok: false as const,
        balance: null,
        refund: null,
        error: failure.errors.form ?? null,
      },
      { status: failure.status },
    );
  }
});

async function decideRefund(api: Api, intent: "approve" | "reject", id: string) {
  try {
    const refund = await (intent === "approve"
      ? api.caller.admin.approveRefund({ id })
      : api.caller.admin.rejectRefund({ id }));
    return { kind: "refund" as const, intent, id, ok: true as const, balance: null, refund, error: null };
  } catch (error) {
    const failure = formFailure(error, "decideRefund");
    if (!failure) throw error;
    return data(
      {
        kind: "refund" as const,
        intent,
        id,
        ok: false as const,
        balance: null,
        refund: null,
        error: failure.errors.form ?? null,
      },
      { status: failure.status },
    );
  }
}

function OutcomeAlert({ outcome }: { outcome: NonNullable<ReturnType<typeof useActionData<typeof action>>> }) {
  if (!outcome.ok) return <Alert tone="error">{outcome.error}</Alert>;
  if (outcome.kind === "refund") {
    const refund = outcome.refund;
    const amount = refund ? formatMoney(refund.amount, refund.currency) : "";
    if (outcome.intent === "reject")
      return (
        <Alert tone="success" title="Refund rejected">
          Nothing was refunded.
        </Alert>
      );
    return refund?.status === "failed" ? (
      <Alert tone="error" title="Approved, but the payment provider refused the refund">
        {refund.failureReason ?? "No money moved."}
      </Alert>
    ) : (
      <Alert tone="success" title="Refund approved">
        {amount} goes back to the customer; the credits it paid for are taken back.
      </Alert>
    );
  }
  return (
    <Alert tone="success" title={outcome.intent === "approve" ? "Adjustment approved" : "Adjustment rejected"}>
      {outcome.intent === "approve" && outcome.balance !== null
        ? `It is applied: the new balance is ${formatCredits(outcome.balance)}.`
        : "The balance was not changed."}
    </Alert>
  );
}

export default function AdminApprovals() {
  const { adjustments, refunds, emails, me } = useLoaderData<typeof loader>();
  const outcome = useActionResult<typeof action>();
  const navigation = useNavigation();
  const pending = navigation.state === "submitting" ? navigation.formData : undefined;

  return (
    <div>
      <PageHeader
        title="Approvals"
        description="Adjustments and refunds above the approval threshold wait here until another admin approves or rejects them."
      />
      {outcome ? (
        <div className="mb-4">
          <OutcomeAlert outcome={outcome} />
        </div>
      ) : null}

      <h2 className="mb-3 text-lg font-semibold text-slate-900">Adjustments</h2>

      {adjustments.length === 0 ? (
        <EmptyState title="Nothing to decide">
          Large adjustments requested by admins will wait here for a second admin.
        </EmptyState>
      ) : (
        <ul className="space-y-3" aria-label="Pending adjustments">
          {adjustments.map((a) => {
            // The server refuses a decision by the requester or by the beneficiary: neither gets buttons.
            const mine = a.requestedBy === me;
            const forMe = a.targetUserId === me;
            const target = emails[a.targetUserId] ?? a.targetUserId;
            const busy = pending?.get("id") === a.id;
            return (
              <li
                key={a.id}
                className="flex flex-wrap items-start justify-between gap-4 rounded-2xl border border-slate-200 bg-white px-4 py-4 shadow-sm"
                data-testid="approval"
              >
                <div className="min-w-0">
                  <p className="flex flex-wrap items-baseline gap-2">
                    <span
                      className={`text-xl font-bold tabular-nums ${a.amount > 0 ? "text-emerald-700" : "text-slate-900"}`}
                    >
                      {formatSigned(a.amount)}
                    </span>
                    <span className="text-slate-600">credits for</span>
                    <Link
                      to={`/admin/users/${a.targetUserId}`}
                      className="font-medium break-all text-indigo-700 underline-offset-4 hover:underline"
                    >
                      {target}
                    </Link>
                  </p>
                  <p className="mt-1 text-slate-800">“{a.reason}”</p>
                  {a.grant ? (
                    <p className="mt-1 text-sm text-slate-600" data-testid="approval-grant">
                      As {grantCategoryLabels[a.grant.category]} · priority {a.grant.priority}
                      {a.grant.expiresAt ? ` · expiring ${formatDateTime(a.grant.expiresAt)}` : " · never expiring"}
                    </p>
                  ) : null}
                  <p className="mt-1 text-sm text-slate-500">
                    Requested by {mine ? "you" : (emails[a.requestedBy] ?? a.requestedBy)} ·{" "}
                    {formatDateTime(a.createdAt)} · expires {formatDateTime(a.expiresAt)}
                  </p>
                </div>
                {mine || forMe ? (
                  <Badge tone="warning">{mine ? "Waiting for another admin" : "For you: another admin decides"}</Badge>
                ) : (
                  <Form method="post" className="flex gap-2">
                    <input type="hidden" name="id" value={a.id} />
                    <Button
                      type="submit"
                      name="intent"
                      value="approve"
                      disabled={busy}
                      pending={busy && pending?.get("intent") === "approve"}
                      pendingLabel="Approving…"
                      aria-label={`Approve ${formatSigned(a.amount)} credits for ${target}`}
                    >
                      Approve
                    </Button>
                    <Button
                      type="submit"
                      tone="secondary"
                      name="intent"
                      value="reject"
                      disabled={busy}
                      pending={busy && pending?.get("intent") === "reject"}
                      pendingLabel="Rejecting…"
                      aria-label={`Reject ${formatSigned(a.amount)} credits for ${target}`}
                    >
                      Reject
                    </Button>
                  </Form>
                )}
              </li>
            );
          })}
        </ul>
      )}
      <h2 className="mt-8 mb-3 text-lg font-semibold text-slate-900">Refunds</h2>
      <RefundApprovals
        refunds={refunds}
        emails={emails}
        me={me}
        busyId={pending?.get("kind") === "refund" ? String(pending.get("id") ?? "") : null}
        busyIntent={pending ? String(pending.get("intent") ?? "") : null}
      />
    </div>
  );
}
