import { DEFAULT_PAGE_SIZE } from "@credits/api/limits";
import { type MetaFunction, redirect } from "@remix-run/node";
import { Form, Link, useLoaderData, useNavigation } from "@remix-run/react";
import { Badge, Button, buttonClass, EmptyState, PageHeader } from "../components/ui.tsx";
import { publicErrorOf } from "../lib/errors.server.ts";
import { formatDateTime } from "../lib/format.ts";
import { pageCursor } from "../lib/page-cursor.ts";
import { statEntries, statusTone } from "../lib/reconciliation.ts";
import { adminRoute } from "../lib/route.server.ts";

export const meta: MetaFunction = () => [{ title: "Reconciliation · Admin · Credits" }];

export const loader = adminRoute(async ({ request, api }) => {
  const cursorParam = new URL(request.url).searchParams.get("cursor");
  const cursor = pageCursor(cursorParam);
  try {
    const page = await api.caller.reconciliation.runs({ limit: DEFAULT_PAGE_SIZE, ...(cursor ? { cursor } : {}) });
    return { ...page, cursor, cursorInvalid: false };
  } catch (error) {
    if (!cursor || publicErrorOf(error)?.appCode !== "INVALID_INPUT") throw error;
    return { runs: [], nextCursor: null, cursor, cursorInvalid: true };
  }
});

export const action = adminRoute(async ({ api }) => {
  const run = await api.caller.reconciliation.start();
  return redirect(`/admin/reconciliation/${run.id}`);
});

export default function AdminReconciliation() {
  const { runs, nextCursor, cursor, cursorInvalid } = useLoaderData<typeof loader>();
  const navigation = useNavigation();
  const running = navigation.state !== "idle" && navigation.formMethod === "POST";
  return (
    <div>
      <PageHeader
        title="Reconciliation"
        description="Each run compares payments and balances with the payment provider and the ledger, and lists what differs."
        actions={
          <Form method="post">
            <Button type="submit" disabled={running} pending={running} pendingLabel="Running…">
              Run now
            </Button>
          </Form>
        }
      />
      {cursorInvalid ? (
        <EmptyState
          title="This page link is out of date"
          action={
            <Link to="/admin/reconciliation" className={buttonClass("secondary")}>
              Latest runs
            </Link>
          }
        />
      ) : runs.length === 0 ? (
        <EmptyState title={cursor ? "No older runs" : "No runs yet"}>
          Runs happen on a schedule; “Run now” starts one over the default window.
        </EmptyState>
      ) : (
        <ul className="divide-y divide-slate-100 rounded-2xl border border-slate-200 bg-white shadow-sm">
          {runs.map((run) => {
            const stats = statEntries(run.stats);
            return (
              <li key={run.id}>
                <Link
                  to={`/admin/reconciliation/${run.id}`}
                  className="flex flex-wrap items-start justify-between gap-3 px-4 py-3 hover:bg-slate-50"
                >
                  <span className="min-w-0">
                    <span className="flex flex-wrap items-center gap-2 font-medium text-indigo-700">
                      {formatDateTime(run.startedAt)}
                      <Badge tone={statusTone(run.status)}>{run.status}</Badge>
                      <Badge>{run.trigger}</Badge>
                    </span>
                    <span className="mt-1 block text-sm text-slate-500">
                      Window {formatDateTime(run.windowStart)} – {formatDateTime(run.windowEnd)}
                    </span>
                  </span>
                  {stats.length ? (
                    <span className="text-right text-sm text-slate-600">
                      {stats.slice(0, 3).map(([k, v]) => (
                        <span key={k} className="block">
                          {k}: <span className="font-medium text-slate-900 tabular-nums">{v}</span>
                        </span>
                      ))}
                    </span>
                  ) : null}
                </Link>
              </li>
            );
          })}
        </ul>
      )}
      {cursor || nextCursor ? (
        <nav aria-label="Pagination" className="mt-6 flex justify-between gap-3">
          {cursor ? (
            <Link to="/admin/reconciliation" className={buttonClass("secondary")}>
              ← Latest runs
            </Link>
          ) : (
            <span />
          )}
          {nextCursor ? (
            <Link
              to={`/admin/reconciliation?cursor=${encodeURIComponent(nextCursor)}`}
              className={buttonClass("secondary")}
              rel="next"
            >
              Older runs →
            </Link>
          ) : null}
        </nav>
      ) : null}
    </div>
  );
}
