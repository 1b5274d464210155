import { MAX_EMAIL_LENGTH } from "@credits/api/limits";
import { data, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData, useNavigation } from "@remix-run/react";
import { Alert, Badge, Button, buttonClass, cx, EmptyState, Field, PageHeader, Pager } from "../components/ui.tsx";
import { emailsFor, isUuid, validDate } from "../lib/admin.server.ts";
import type { Api } from "../lib/api.server.ts";
import { actionLabel, auditActions, isAuditAction } from "../lib/audit.ts";
import { publicErrorOf } from "../lib/errors.server.ts";
import { formatDateTime, formatSigned } from "../lib/format.ts";
import { isPageCursor, pageCursor } from "../lib/page-cursor.ts";
import { adminRoute } from "../lib/route.server.ts";

export const meta: MetaFunction = () => [{ title: "Audit log · Admin · Credits" }];

const PAGE_SIZE = 25;
type Filters = { actor: string; target: string; action: string; from: string; to: string };
type FilterErrors = Partial<Record<keyof Filters, string>>;

// A person given by email (exact, case-insensitive) or by user id.
async function resolveUser(api: Api, value: string): Promise<string | null> {
  if (isUuid(value)) return value.toLowerCase();
  const { users } = await api.caller.admin.users({ query: value }).catch((error: unknown) => {
    // Text the search refuses (control or bidirectional characters) names no one.
    if (publicErrorOf(error)?.appCode === "INVALID_INPUT") return { users: [] };
    throw error;
  });
  return users.find((u) => u.email?.toLowerCase() === value.toLowerCase())?.id ?? null;
}

function auditHref(filters: Filters, page: { cursor: string | null; trail: string[] }) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) if (value) params.set(name, value);
  if (page.cursor) {
    params.set("cursor", page.cursor);
    if (page.trail.length) params.set("trail", page.trail.join("."));
  }
  const search = params.toString();
  return search ? `/admin/audit?${search}` : "/admin/audit";
}

export const loader = adminRoute(async ({ request, api }) => {
  const params = new URL(request.url).searchParams;
  const filters: Filters = {
    actor: (params.get("actor") ?? "").trim().slice(0, MAX_EMAIL_LENGTH),
    target: (params.get("target") ?? "").trim().slice(0, MAX_EMAIL_LENGTH),
    action: params.get("action") ?? "",
    from: params.get("from") ?? "",
    to: params.get("to") ?? "",
  };
  const errors: FilterErrors = {};
  if (filters.action && !isAuditAction(filters.action)) filters.action = "";
  if (filters.from && !validDate(filters.from)) errors.from = "Enter a date as YYYY-MM-DD.";
  if (filters.to && !validDate(filters.to)) errors.to = "Enter a date as YYYY-MM-DD.";
  if (!errors.from && !errors.to && filters.from && filters.to && filters.from > filters.to) {
    errors.to = "The end date must be on or after the start date.";
  }
  const [actorId, targetUserId] = await Promise.all([
    filters.actor ? resolveUser(api, filters.actor) : null,
    filters.target ? resolveUser(api, filters.target) : null,
  ]);
  if (filters.actor && !actorId) errors.actor = "No user has this email or id.";
  if (filters.target && !targetUserId) errors.target = "No user has this email or id.";

  const cursorParam = params.get("cursor");
  const cursor = pageCursor(cursorParam);
  const trail = cursor ? (params.get("trail") ?? "").split(".").filter(isPageCursor).slice(-50) : [];
  const filtered = Object.values(filters).some(Boolean);

  if (Object.keys(errors).length > 0) {
    return data(
      {
        filters,
        errors,
        actions: [],
        nextCursor: null,
        cursor: null,
        trail: [],
        cursorInvalid: false,
        emails: {},
        filtered,
      },
      { status: 400 },
    );
  }
  const window: { from?: string; to?: string } = {};
  if (filters.from) window.from = `${filters.from}T00:00:00.000Z`;
  if (filters.to) window.to = new Date(Date.parse(`${filters.to}T00:00:00.000Z`) + 86_400_000).toISOString();
  let page: { actions: Awaited<ReturnType<Api["caller"]["admin"]["audit"]>>["actions"]; nextCursor: string | null };
  let cursorInvalid = false;
  try {
    page = await api.caller.admin.audit({
      limit: PAGE_SIZE,
      ...(actorId ? { actorId } : {}),
      ...(targetUserId ? { targetUserId } : {}),
      ...(filters.action ? { action: filters.action } : {}),
      ...window,
      ...(cursor ? { cursor } : {}),
    });
  } catch (error) {
    if (publicErrorOf(error)?.appCode !== "INVALID_INPUT" || !cursor) throw error;
    page = { actions: [], nextCursor: null };
    cursorInvalid = true;
  }
  const emails = await emailsFor(
    api,
    page.actions.flatMap((a) => [a.actorId, a.targetUserId]),
  );
  return { filters, errors, ...page, cursor, trail, cursorInvalid, emails, filtered };
});

export default function AdminAudit() {
  const { filters, errors, actions, nextCursor, cursor, trail, cursorInvalid, emails, filtered } =
    useLoaderData<typeof loader>();
  const navigation = useNavigation();
  const loading = navigation.state === "loading" && navigation.location?.pathname === "/admin/audit";
  const pageNumber = cursor ? trail.length + 2 : 1;
  const previous = cursor ? { cursor: trail.at(-1) ?? null, trail: trail.slice(0, -1) } : null;
  const next = nextCursor ? { cursor: nextCursor, trail: cursor ? [...trail, cursor] : [] } : null;
  const who = (id: string | null) => (id ? (emails[id as keyof typeof emails] ?? id) : "System");

  return (
    <div>
      <PageHeader title="Audit log" description="Every admin action, newest first. Times are UTC." />
      <Form
        method="get"
        className="mb-6 rounded-2xl border border-slate-200 bg-white p-4 shadow-sm"
        aria-label="Filter the audit log"
        key={JSON.stringify(filters)}
      >
        <div className="grid gap-4 sm:grid-cols-2 lg:grid-cols-5">
          <Field
            id="audit-actor"
            name="actor"
            label="Actor (email or id)"
            defaultValue={filters.actor}
            error={errors.actor}
          />
          <Field
            id="audit-target"
            name="target"
            label="Target user (email or id)"
            defaultValue={filters.target}
            error={errors.target}
          />
          <div>
            <label htmlFor="audit-action" className="block text-sm font-medium text-slate-800">
              Action
            </label>
            <select
              id="audit-action"
              name="action"
              defaultValue={filters.action}
              className="mt-1.5 block h-11 w-full rounded-lg border border-slate-300 bg-white px-3 text-slate-900"
            >
              <option value="">Any action</option>
              {Object.entries(auditActions).map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </div>
          <Field
            id="audit-from"
            name="from"
            label="From (UTC)"
            type="date"
            defaultValue={filters.from}
            error={errors.from}
          />
          <Field id="audit-to" name="to" label="To (UTC)" type="date" defaultValue={filters.to} error={errors.to} />
        </div>
        <div className="mt-4 flex gap-2">
          <Button type="submit">Apply</Button>
          {filtered ? (
            <Link to="/admin/audit" className={buttonClass("ghost")}>
              Clear
            </Link>
          ) : null}
        </div>
      </Form>

      <div aria-busy={loading} className={cx("transition-opacity", loading && "opacity-60")}>
        {cursorInvalid ? (
          <Alert tone="warning" title="This page link is out of date">
            <Link to={auditHref(filters, { cursor: null, trail: [] })} className="font-medium underline">
              Go to the first page
            </Link>
          </Alert>
        ) : actions.length === 0 ? (
          <EmptyState title={filtered ? "Nothing matches these filters" : "No admin actions yet"}>
            {filtered
              ? "Try another action or a wider date range."
              : "Adjustments, approvals and erasures will be listed here."}
          </EmptyState>
        ) : (
          <div className="overflow-x-auto rounded-2xl border border-slate-200 bg-white shadow-sm">
            <table className="w-full text-left text-sm">
              <caption className="sr-only">Audit log, page {pageNumber}</caption>
              <thead className="bg-slate-50 text-xs font-semibold tracking-wide text-slate-500 uppercase">
                <tr>
                  <th scope="col" className="px-4 py-3">
                    When
                  </th>
                  <th scope="col" className="px-4 py-3">
                    Action
                  </th>
                  <th scope="col" className="px-4 py-3">
                    Actor
                  </th>
                  <th scope="col" className="px-4 py-3">
                    Target
                  </th>
                  <th scope="col" className="px-4 py-3 text-right">
                    Amount
                  </th>
                  <th scope="col" className="px-4 py-3">
                    Reason
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {actions.map((a) => (
                  <tr key={a.id} className="align-top">
                    <td className="px-4 py-3 whitespace-nowrap text-slate-600">
                      <time dateTime={a.createdAt}>{formatDateTime(a.createdAt)}</time>
                    </td>
                    <td className="px-4 py-3">
                      <Badge
                        tone={a.action === "adjust" || a.action === "adjustment_approved" ? "positive" : "neutral"}
                      >
                        {actionLabel(a.action)}
                      </Badge>
                    </td>
                    <td className="px-4 py-3 break-all text-slate-700">{who(a.actorId)}</td>
                    <td className="px-4 py-3 break-all">
                      {a.targetUserId ? (
                        <Link
                          to={`/admin/users/${a.targetUserId}`}
                          className="text-indigo-700 underline-offset-4 hover:underline"
                        >
                          {who(a.targetUserId)}
                        </Link>
                      ) : (
                        <span className="text-slate-400">—</span>
                      )}
                    </td>
                    <td className="px-4 py-3 text-right whitespace-nowrap tabular-nums">
                      {a.amount !== null ? formatSigned(a.amount) : ""}
                      {a.balanceBefore !== null && a.balanceAfter !== null ? (
                        <span className="block text-xs text-slate-500">
                          {a.balanceBefore.toLocaleString("en")} → {a.balanceAfter.toLocaleString("en")}
                        </span>
                      ) : null}
                    </td>
                    <td className="px-4 py-3 text-slate-700">{a.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>

      {cursorInvalid ? null : (
        <Pager
          page={pageNumber}
          previous={previous ? auditHref(filters, previous) : null}
          next={next ? auditHref(filters, next) : null}
        />
      )}
    </div>
  );
}
