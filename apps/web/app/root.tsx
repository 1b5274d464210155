import type { LinksFunction, MetaFunction } from "@remix-run/node";
import {
  isRouteErrorResponse,
  Links,
  Meta,
  Outlet,
  Scripts,
  ScrollRestoration,
  useLoaderData,
  useRouteError,
  useRouteLoaderData,
} from "@remix-run/react";
import type { ReactNode } from "react";
import { Shell, type ShellUser } from "./components/shell.tsx";
import { buttonClass } from "./components/ui.tsx";
import { useLiveBalance } from "./lib/live-balance.ts";
import { useNonce } from "./lib/nonce.ts";
import { route } from "./lib/route.server.ts";
import stylesheet from "./tailwind.css?url";

const favicon =
  "data:image/svg+xml," +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#4f46e5"/><circle cx="16" cy="16" r="8" fill="none" stroke="#fff" stroke-width="3"/></svg>',
  );

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: stylesheet },
  { rel: "icon", href: favicon },
];

export const meta: MetaFunction = ({ error }) => {
  if (!error) return [{ title: "Credits" }];
  return [{ title: `${errorCopy(isRouteErrorResponse(error) ? error.status : 500).title} · Credits` }];
};

function errorCopy(status: number) {
  if (status === 404) {
    return {
      title: "Page not found",
      text: "There is nothing at this address. It may have moved, or the link is wrong.",
    };
  }
  if (status === 403)
    return { title: "You don't have access to this page", text: "This page is for administrators only." };
  if (status === 400) return { title: "That request didn't make sense", text: "Something in the address is invalid." };
  return {
    title: "Something went wrong",
    text: "An unexpected error stopped this page from loading. Try again in a moment.",
  };
}

export const loader = route(async ({ api }) => {
  const session = await api.session();
  let user: ShellUser | null = null;
  // The newest ledger row this page's data includes: the live balance reloads for any other.
  let newestTransactionId: string | null = null;
  if (session) {
    const [{ balance, transactions }, alerts] = await Promise.all([
      api.caller.credits.mine({ limit: 1 }),
      api.caller.alerts.get(),
    ]);
    newestTransactionId = transactions[0]?.id ?? null;
    user = {
      email: session.user.email,
      name: session.user.name,
      role: session.user.role,
      balance,
      lowBalanceThreshold: alerts.lowBalanceThreshold,
    };
  }
  return { user, newestTransactionId };
});

export function Layout({ children }: { children: ReactNode }) {
  const nonce = useNonce();
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <Meta />
        <Links />
      </head>
      <body className="min-h-screen font-sans">
        {children}
        <ScrollRestoration nonce={nonce} />
        <Scripts nonce={nonce} />
      </body>
    </html>
  );
}

export default function App() {
  const { user, newestTransactionId } = useLoaderData<typeof loader>();
  useLiveBalance(user !== null, newestTransactionId);
  return (
    <Shell user={user}>
      <Outlet />
    </Shell>
  );
}

export function ErrorBoundary() {
  const error = useRouteError();
  const root = useRouteLoaderData<typeof loader>("root");
  const status = isRouteErrorResponse(error) ? error.status : 500;
  const copy = errorCopy(status);
  return (
    <Shell user={root?.user ?? null}>
      <div className="mx-auto max-w-lg py-12 text-center">
        <p className="text-sm font-semibold tracking-wide text-indigo-600">Error {status}</p>
        <h1 className="mt-2 text-3xl font-bold tracking-tight text-slate-900">{copy.title}</h1>
        <p className="mt-3 text-slate-600">{copy.text}</p>
        <div className="mt-8 flex flex-wrap justify-center gap-3">
          <a href="/credits" className={buttonClass("primary")}>
            Go to your credits
          </a>
          <a href="/" className={buttonClass("secondary")}>
            Home
          </a>
        </div>
      </div>
    </Shell>
  );
}
