import type { MetaFunction } from "@remix-run/node";
import { NavLink, Outlet, useLoaderData } from "@remix-run/react";
import { cx } from "../components/ui.tsx";
import { adminRoute } from "../lib/route.server.ts";

export const meta: MetaFunction = () => [{ title: "Admin · Credits" }];

// The admin area's frame: its sub-navigation (with the number of requests waiting for a
// decision) around the page.
export const loader = adminRoute(async ({ api, user }) => {
  const { adjustments } = await api.caller.admin.approvals();
  const waiting = adjustments.filter((a) => a.requestedBy !== user.id).length;
  return { waiting };
});

export default function AdminLayout() {
  const { waiting } = useLoaderData<typeof loader>();
  const links = [
    { to: "/admin", label: "Dashboard", end: true },
    { to: "/admin/users", label: "Users", end: false },
    { to: "/admin/approvals", label: "Approvals", end: false, count: waiting },
    { to: "/admin/audit", label: "Audit log", end: false },
    { to: "/admin/reconciliation", label: "Reconciliation", end: false },
    { to: "/admin/packages", label: "Packs", end: false },
    { to: "/admin/api-keys", label: "API keys", end: false },
    { to: "/admin/webhooks", label: "Webhooks", end: false },
  ];
  return (
    <div className="space-y-6">
      <nav aria-label="Admin" className="-mx-1 overflow-x-auto border-b border-slate-200 px-1 pb-px">
        <ul className="flex gap-1">
          {links.map((link) => (
            <li key={link.to}>
              <NavLink
                to={link.to}
                end={link.end}
                className={({ isActive }) =>
                  cx(
                    "-mb-px inline-flex items-center gap-2 border-b-2 px-3 py-2.5 text-sm font-medium whitespace-nowrap",
                    isActive
                      ? "border-indigo-600 text-indigo-700"
                      : "border-transparent text-slate-600 hover:border-slate-300 hover:text-slate-900",
                  )
                }
              >
                {link.label}
                {link.count ? (
                  <span className="rounded-full bg-amber-100 px-2 py-0.5 text-xs font-semibold text-amber-800">
                    {link.count}
                    <span className="sr-only"> waiting</span>
                  </span>
                ) : null}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <Outlet />
    </div>
  );
}
