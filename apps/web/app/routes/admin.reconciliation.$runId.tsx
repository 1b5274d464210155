import { data, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { AcknowledgeBreak, type BreakOutcome } from "../components/acknowledge-break.tsx";
import { Badge, buttonClass, Card, EmptyState, PageHeader } from "../components/ui.tsx";
import { useActionResult } from "../lib/action-result.ts";
import { emailsFor, isUuid } from "../lib/admin.server.ts";
import { formFailure } from "../lib/errors.server.ts";
import { formatDateTime } from "../lib/format.ts";
import { textField } from "../lib/forms.ts";
import { pageCursor } from "../lib/page-cursor.ts";
import { findingCopy, statEntries, statusTone } from "../lib/reconciliation.ts";
import { adminRoute } from "../lib/route.server.ts";

export const meta: MetaFunction = () => [{ title: "Reconciliation run · Admin · Credits" }];

export const loader = adminRoute(async ({ request, params, api, user }) => {
  const id = params.runId ?? "";
  if (!isUuid(id)) throw data("no such run", { status: 404 });
  const cursorParam = new URL(request.url).searchParams.get("cursor");
  const cursor = pageCursor(cursorParam);
  // A run that is gone is the 404 page, a cursor from an edited link the 400 page (the wrapper's).
  const [result, { requests }] = await Promise.all([
    api.caller.reconciliation.run({ id, limit: 50, ...(cursor ? { cursor } : {}) }),
    api.caller.reconciliation.breakRequests(),
  ]);
  // The breaks one admin acknowledged that wait for a second (by user and row), and who sent them.
  const emails = await emailsFor(
    api,
    requests.map((r) => r.requestedBy),
  );
  const pending = requests.map((r) => ({
    ...r,
    requestedBy: r.requestedBy === user.id ? "you" : (emails[r.requestedBy] ?? r.requestedBy),
    mine: r.requestedBy === user.id,
  }));
  return { ...result, cursor, pending };
});

// A finding's "Acknowledge" form: the break of that user's chain at that row, audited.
export const action = adminRoute(async ({ request, api }) => {
  const form = await request.formData();
  const outcome = { userId: textField(form, "userId"), seq: textField(form, "seq") };
  const reason = textField(form, "reason").trim();
  if (!reason) {
    const errors = { reason: "Say why the break is accepted: the reason is kept in the audit log." };
    return data<BreakOutcome>({ ...outcome, ok: false, errors }, { status: 400 });
  }
  try {
    const { created, awaitingSecondAdmin } = await api.caller.reconciliation.acknowledgeBreak({
      userId: outcome.userId,
      seq: Number(outcome.seq),
      reason,
    });
    return data<BreakOutcome>({ ...outcome, ok: true, created, awaitingSecondAdmin, errors: {} });
  } catch (error) {
    const failure = formFailure(error, "acknowledgeBreak");
    if (!failure) throw error;
    return data<BreakOutcome>({ ...outcome, ok: false, errors: failure.errors }, { status: failure.status });
  }
});

export default function ReconciliationRun() {
  const { run, findings, nextCursor, cursor, pending } = useLoaderData<typeof loader>();
  const outcome = useActionResult<typeof action>();
  const stats = statEntries(run.stats);
  return (
    <div className="space-y-6">
      <p>
        <Link
          to="/admin/reconciliation"
          className="text-sm font-medium text-indigo-700 underline-offset-4 hover:underline"
        >
          ← All runs
        </Link>
      </p>
      <PageHeader
        title={`Run of ${formatDateTime(run.startedAt)}`}
        description={
          <span className="flex flex-wrap items-center gap-2">
            <Badge tone={statusTone(run.status)}>{run.status}</Badge>
            <Badge>{run.trigger}</Badge>
            <span>
              Window {formatDateTime(run.windowStart)} – {formatDateTime(run.windowEnd)}
            </span>
          </span>
        }
      />
      {stats.length ? (
        <Card>
          <h2 className="text-lg font-semibold text-slate-900">Figures</h2>
          <dl className="mt-4 grid grid-cols-2 gap-4 sm:grid-cols-4">
            {stats.map(([k, v]) => (
              <div key={k}>
                <dt className="text-sm text-slate-500 first-letter:uppercase">{k}</dt>
                <dd className="mt-1 font-semibold text-slate-900 tabular-nums">{v}</dd>
              </div>
            ))}
          </dl>
        </Card>
      ) : null}
      <section aria-labelledby="findings-heading">
        <h2 id="findings-heading" className="mb-3 text-lg font-semibold text-slate-900">
          Findings
        </h2>
        {findings.length === 0 ? (
          <EmptyState title={cursor ? "No more findings" : "Everything matches"}>
            {cursor
              ? "This is the end of the list."
              : "This run found no difference between the provider, the payments and the ledger."}
          </EmptyState>
        ) : (
          <ul className="divide-y divide-slate-100 rounded-2xl border border-slate-200 bg-white shadow-sm">
            {findings.map((f) => (
              <li key={f.id} className="px-4 py-3 text-sm">
                <p className="flex flex-wrap items-center gap-2 font-medium text-slate-900">
                  {findingCopy(f.kind).label}
                  {f.healed ? <Badge tone="positive">Healed</Badge> : <Badge tone="warning">Needs a decision</Badge>}
                </p>
                <p className="mt-1 text-slate-600">{findingCopy(f.kind).text}</p>
                <p className="mt-1 flex flex-wrap gap-x-4 text-xs text-slate-500">
                  {f.userId ? (
                    <Link
                      to={`/admin/users/${f.userId}`}
                      className="text-indigo-700 underline-offset-4 hover:underline"
                    >
                      User {f.userId}
                    </Link>
                  ) : null}
                  {f.paymentId ? <span>Payment {f.paymentId}</span> : null}
                  {f.providerRef ? <span>Provider {f.providerRef}</span> : null}
                  {Object.entries(f.detail).map(([k, v]) => (
                    <span key={k}>
                      {k}: {String(v)}
                    </span>
                  ))}
                </p>
                {f.kind === "ledger_invariant" && f.userId && typeof f.detail.chainBrokenAtSeq === "number" ? (
                  <AcknowledgeBreak
                    userId={f.userId}
                    seq={f.detail.chainBrokenAtSeq}
                    outcome={outcome}
                    pending={pending.find((r) => r.userId === f.userId && r.seq === f.detail.chainBrokenAtSeq)}
                  />
                ) : null}
              </li>
            ))}
          </ul>
        )}
        {nextCursor ? (
          <p className="mt-4 text-right">
            <Link to={`?cursor=${encodeURIComponent(nextCursor)}`} className={buttonClass("secondary")} rel="next">
              More findings →
            </Link>
          </p>
        ) : null}
      </section>
    </div>
  );
}
