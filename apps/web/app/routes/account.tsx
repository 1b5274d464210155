import { type ActionFunctionArgs, data, type LoaderFunctionArgs, type MetaFunction, redirect } from "@remix-run/node";
import { Form, useLoaderData, useNavigation } from "@remix-run/react";
import { Badge, Button, Card, PageHeader } from "../components/ui.tsx";
import { requireUser } from "../lib/api.server.ts";
import { formatDate, formatDateTime } from "../lib/format.ts";

export const meta: MetaFunction = () => [{ title: "Account · Credits" }];

export async function loader({ request, context }: LoaderFunctionArgs) {
  const api = await requireUser(request, context);
  const { sessions } = await api.caller.auth.sessions();
  // The current session first, then the most recent.
  const ordered = [...sessions].sort(
    (a, b) => Number(b.current) - Number(a.current) || b.createdAt.localeCompare(a.createdAt),
  );
  const { email, name, role, createdAt } = api.user;
  return data(
    { user: { email, name, role, createdAt: createdAt.toISOString() }, sessions: ordered },
    { headers: api.headers() },
  );
}

export async function action({ request, context }: ActionFunctionArgs) {
  const api = await requireUser(request, context);
  await api.caller.auth.logOutEverywhere();
  return redirect("/login?signedOut=everywhere", { headers: api.headers() });
}

export default function Account() {
  const { user, sessions } = useLoaderData<typeof loader>();
  const navigation = useNavigation();
  const signingOut = navigation.state === "submitting" && navigation.formAction === "/account";
  return (
    <div className="space-y-6">
      <PageHeader title="Account" description="Your details and where you are signed in." />

      <Card>
        <h2 className="text-lg font-semibold text-slate-900">Profile</h2>
        <dl className="mt-4 grid gap-4 sm:grid-cols-3">
          <div>
            <dt className="text-sm text-slate-500">Email</dt>
            <dd className="mt-1 font-medium break-all text-slate-900">{user.email}</dd>
          </div>
          <div>
            <dt className="text-sm text-slate-500">Name</dt>
            <dd className="mt-1 font-medium text-slate-900">{user.name ?? "Not set"}</dd>
          </div>
          <div>
            <dt className="text-sm text-slate-500">Member since</dt>
            <dd className="mt-1 font-medium text-slate-900">{formatDate(user.createdAt)}</dd>
          </div>
        </dl>
      </Card>

      <Card>
        <div className="flex flex-wrap items-start justify-between gap-4">
          <div>
            <h2 className="text-lg font-semibold text-slate-900">Active sessions</h2>
            <p className="mt-1 text-sm text-slate-600">
              {sessions.length === 1
                ? "You are signed in on this device only."
                : `You are signed in on ${sessions.length} devices or browsers.`}
            </p>
          </div>
          <Form method="post">
            <Button type="submit" tone="danger" disabled={signingOut} pending={signingOut} pendingLabel="Signing out…">
              Sign out everywhere
            </Button>
          </Form>
        </div>
        <ul className="mt-5 divide-y divide-slate-100 rounded-xl border border-slate-200">
          {sessions.map((session) => (
            <li key={session.id} className="flex flex-wrap items-center justify-between gap-3 px-4 py-3">
              <div>
                <p className="font-medium text-slate-900">
                  Signed in {formatDateTime(session.createdAt)}{" "}
                  {session.current ? <Badge tone="brand">This device</Badge> : null}
                </p>
                <p className="text-sm text-slate-500">Expires {formatDateTime(session.expiresAt)} unless used</p>
              </div>
              <code className="rounded bg-slate-100 px-2 py-1 text-xs text-slate-600" title="Session reference">
                {session.id}
              </code>
            </li>
          ))}
        </ul>
        <p className="mt-4 text-sm text-slate-500">
          Signing out everywhere ends every session, this one included. Use it if you signed in on a device you no
          longer control.
        </p>
      </Card>
    </div>
  );
}
