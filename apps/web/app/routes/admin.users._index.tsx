import { MAX_EMAIL_LENGTH } from "@credits/api/limits";
import type { MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData, useNavigation } from "@remix-run/react";
import { Badge, Button, cx, EmptyState, PageHeader } from "../components/ui.tsx";
import { publicErrorOf } from "../lib/errors.server.ts";
import { formatCredits, formatDate } from "../lib/format.ts";
import { adminRoute } from "../lib/route.server.ts";

export const meta: MetaFunction = () => [{ title: "Users · Admin · Credits" }];

export const loader = adminRoute(async ({ request, api }) => {
  const q = (new URL(request.url).searchParams.get("q") ?? "").trim().slice(0, MAX_EMAIL_LENGTH);
  const { users } = await api.caller.admin.users({ query: q }).catch((error: unknown) => {
    // Text the search refuses (control or bidirectional characters) is in no one's email.
    if (publicErrorOf(error)?.appCode === "INVALID_INPUT") return { users: [] };
    throw error;
  });
  return { q, users };
});

export default function AdminUsers() {
  const { q, users } = useLoaderData<typeof loader>();
  const navigation = useNavigation();
  const searching = navigation.state === "loading" && navigation.location?.pathname === "/admin/users";
  return (
    <div>
      <PageHeader title="Users" description="Find an account by email (or part of it) or by user id." />
      <Form method="get" role="search" aria-label="Users" className="mb-6 flex max-w-xl flex-wrap items-end gap-2">
        <div className="min-w-0 flex-1">
          <label htmlFor="user-search" className="block text-sm font-medium text-slate-800">
            Email or user id
          </label>
          <input
            id="user-search"
            name="q"
            type="search"
            defaultValue={q}
            key={q}
            maxLength={MAX_EMAIL_LENGTH}
            className="mt-1.5 block h-11 w-full rounded-lg border border-slate-300 bg-white px-3 text-slate-900"
          />
        </div>
        <Button type="submit" className="h-11" disabled={searching} pending={searching} pendingLabel="Searching…">
          Search
        </Button>
      </Form>

      <div aria-busy={searching} className={cx("transition-opacity", searching && "opacity-60")}>
        {users.length === 0 ? (
          <EmptyState title={q ? "No user matches" : "No users yet"}>
            {q
              ? `Nothing found for “${q}”. Check the spelling, or search by user id.`
              : "Accounts appear here once people sign up."}
          </EmptyState>
        ) : (
          <ul className="divide-y divide-slate-100 rounded-2xl border border-slate-200 bg-white shadow-sm">
            {users.map((user) => (
              <li key={user.id}>
                <Link
                  to={`/admin/users/${user.id}`}
                  className="flex flex-wrap items-center justify-between gap-3 px-4 py-3 hover:bg-slate-50"
                >
                  <span className="min-w-0">
                    <span className="flex flex-wrap items-center gap-2 font-medium break-all text-indigo-700">
                      {user.email ?? "Erased user"}
                      {user.role === "admin" ? <Badge tone="brand">Admin</Badge> : null}
                      {user.erased ? <Badge tone="negative">Erased</Badge> : null}
                      {user.disputed ? <Badge tone="warning">Disputed</Badge> : null}
                    </span>
                    <span className="block font-mono text-xs text-slate-500">{user.id}</span>
                  </span>
                  <span className="text-right text-sm">
                    <span className="block font-semibold text-slate-900 tabular-nums">
                      {formatCredits(user.balance)}
                    </span>
                    <span className="block text-slate-500">since {formatDate(user.createdAt)}</span>
                  </span>
                </Link>
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}
