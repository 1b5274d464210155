import { Form, Link, NavLink, useNavigation } from "@remix-run/react";
import type { ReactNode } from "react";
import { formatCredits } from "../lib/format.ts";
import { cx } from "./ui.tsx";

export interface ShellUser {
  email: string;
  name: string | null;
  role: "user" | "admin";
  balance: number;
  // The low-balance alert in force (null: off): below it, every page shows a banner.
  lowBalanceThreshold: number | null;
}

// The page frame: skip link, header with the navigation, the page, and a progress bar while a
// navigation or a form submission is under way.
export function Shell({ user, children }: { user: ShellUser | null; children: ReactNode }) {
  const navigation = useNavigation();
  const busy = navigation.state !== "idle";
  const links = user
    ? [
        { to: "/credits", label: "Credits", end: true },
        { to: "/credits/history", label: "History", end: false },
        { to: "/account", label: "Account", end: false },
        ...(user.role === "admin" ? [{ to: "/admin", label: "Admin", end: false }] : []),
      ]
    : [];
  return (
    <>
      <a
        href="#main"
        className="sr-only z-50 rounded-lg bg-white px-4 py-2 font-medium text-indigo-700 shadow focus:not-sr-only focus:fixed focus:top-3 focus:left-3"
      >
        Skip to content
      </a>
      <div aria-hidden="true" className="fixed inset-x-0 top-0 z-40 h-0.5 overflow-hidden">
        {busy ? <div className="h-full w-1/3 animate-[progress_1s_ease-in-out_infinite] bg-indigo-500" /> : null}
      </div>
      <p className="sr-only" aria-live="polite">
        {busy ? "Loading…" : ""}
      </p>
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex max-w-5xl flex-wrap items-center gap-x-6 gap-y-3 px-4 py-3">
          <Link to={user ? "/credits" : "/"} className="flex items-center gap-2 text-lg font-bold text-slate-900">
            <span aria-hidden="true" className="grid size-8 place-items-center rounded-lg bg-indigo-600 text-white">
              <span className="size-3.5 rounded-full border-[3px] border-white" />
            </span>
            Credits
          </Link>
          {user ? (
            <nav
              aria-label="Main"
              className="order-last -m-1.5 flex w-[calc(100%+0.75rem)] gap-1 overflow-x-auto p-1.5 sm:order-none sm:w-auto sm:overflow-visible"
            >
              {links.map((link) => (
                <NavLink
                  key={link.to}
                  to={link.to}
                  end={link.end}
                  className={({ isActive }) =>
                    cx(
                      "rounded-lg px-3 py-2 text-sm font-medium whitespace-nowrap",
                      isActive
                        ? "bg-indigo-50 text-indigo-700"
                        : "text-slate-600 hover:bg-slate-100 hover:text-slate-900",
                    )
                  }
                >
                  {link.label}
                </NavLink>
              ))}
            </nav>
          ) : null}
          <div className="ml-auto flex items-center gap-3">
            {user ? (
              <>
                <Link
                  to="/credits"
                  className="rounded-full bg-indigo-50 px-3 py-1 text-sm font-semibold text-indigo-700"
                  aria-label={`Balance: ${formatCredits(user.balance)}`}
                >
                  {formatCredits(user.balance)}
                </Link>
                <span className="hidden max-w-48 truncate text-sm text-slate-600 md:inline" title={user.email}>
                  {user.email}
                </span>
                <Form method="post" action="/logout">
                  <button
                    type="submit"
                    className="rounded-lg px-3 py-2 text-sm font-medium text-slate-600 hover:bg-slate-100 hover:text-slate-900"
                  >
                    Log out
                  </button>
                </Form>
              </>
            ) : (
              <>
                <Link
                  to="/login"
                  className="rounded-lg px-3 py-2 text-sm font-medium text-slate-700 hover:bg-slate-100"
                >
                  Log in
                </Link>
                <Link
                  to="/signup"
                  className="rounded-lg bg-indigo-600 px-3 py-2 text-sm font-semibold text-white hover:bg-indigo-500"
                >
                  Sign up
                </Link>
              </>
            )}
          </div>
        </div>
      </header>
      <main id="main" tabIndex={-1} className="mx-auto max-w-5xl px-4 py-8 focus:outline-none sm:py-10">
        {user && user.lowBalanceThreshold !== null && user.balance < user.lowBalanceThreshold ? (
          <div
            role="status"
            className="mb-6 rounded-lg border border-amber-300 bg-amber-50 px-4 py-3 text-sm text-amber-900"
          >
            Your balance is below your alert threshold of {formatCredits(user.lowBalanceThreshold)}.{" "}
            <Link to="/credits" className="font-semibold underline">
              Buy credits
            </Link>
          </div>
        ) : null}
        {children}
      </main>
      <footer className="mx-auto flex max-w-5xl flex-wrap gap-x-6 gap-y-2 px-4 pb-10 text-sm text-slate-500">
        <span>Credits: prepaid, spent as you go.</span>
        {/* Served by the API server, not by this app: a document navigation. */}
        <a href="/api/docs" className="hover:text-slate-800 hover:underline">
          API reference
        </a>
      </footer>
    </>
  );
}
