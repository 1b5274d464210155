import { PASSWORD_LENGTH } from "@credits/api/limits";
import { data, type MetaFunction, redirect } from "@remix-run/node";
import { Form, useLoaderData, useNavigation } from "@remix-run/react";
import { AutoTopUpForm } from "../components/auto-topup.tsx";
import { LowBalanceAlertForm } from "../components/low-balance-alert.tsx";
import { Badge, Button, buttonClass, Card, Field, PageHeader } from "../components/ui.tsx";
import { useActionResult } from "../lib/action-result.ts";
import { formFailure } from "../lib/errors.server.ts";
import { formatDate, formatDateTime } from "../lib/format.ts";
import { textField } from "../lib/forms.ts";
import { userRoute } from "../lib/route.server.ts";

export const meta: MetaFunction = () => [{ title: "Account · Credits" }];

export const loader = userRoute(async ({ api, user }) => {
  const [{ sessions }, alerts, autoTopUp, catalog] = await Promise.all([
    api.caller.auth.sessions(),
    api.caller.alerts.get(),
    api.caller.autoTopUp.get(),
    api.caller.packages.list(),
  ]);
  const packs = catalog.packages.map(({ id, name, credits, prices }) => ({ id, name, credits, prices }));
  // The current session first, then the most recent.
  const ordered = [...sessions].sort(
    (a, b) => Number(b.current) - Number(a.current) || b.createdAt.localeCompare(a.createdAt),
  );
  const { email, name, role, createdAt } = user;
  return {
    user: { email, name, role, createdAt: createdAt.toISOString() },
    sessions: ordered,
    alerts,
    autoTopUp,
    packs,
  };
});

export const action = userRoute(async ({ request, api }) => {
  const form = await request.formData();
  if (textField(form, "intent") === "alerts") {
    const raw = (textField(form, "lowBalanceThreshold") ?? "").trim();
    // Empty turns the alert off; anything but whole credits is refused by the API's own bounds.
    const value = raw === "" ? null : /^\d{1,10}$/.test(raw) ? Number(raw) : -1;
    try {
      await api.caller.alerts.set({ lowBalanceThreshold: value });
    } catch (error) {
      if (!formFailure(error, "deleteAccount")) throw error;
      return data({ alertError: "Enter a whole number of credits (0 to 1,000,000,000), or leave it empty." }, 400);
    }
    return redirect("/account");
  }
  if (textField(form, "intent") === "autoTopUp") return saveAutoTopUp(form, api);
  if (textField(form, "intent") === "removeCard") return removeCard(api);
  if (textField(form, "intent") !== "delete") {
    await api.caller.auth.logOutEverywhere();
    return redirect("/login?signedOut=everywhere");
  }

  // Deleting the account: the password again (a confirmation token for this session), then
  // the erasure itself, which also ends the session; the home page says it is done.
  const password = textField(form, "password");
  if (!password) {
    return data({ error: "Enter your password to confirm." as string | undefined }, { status: 400 });
  }
  try {
    const { confirmationToken } = await api.caller.gdpr.confirmDeletion({
      password: password.slice(0, PASSWORD_LENGTH.max),
    });
    await api.caller.gdpr.delete({ confirmationToken });
  } catch (error) {
    const failure = formFailure(error, "deleteAccount");
    if (!failure) throw error;
    return data({ error: failure.errors.password ?? failure.errors.form }, { status: failure.status });
  }
  return redirect("/?deleted=1");
});

// The API's own bounds refuse anything but whole credits and a pack on sale.
async function saveAutoTopUp(form: FormData, api: Parameters<Parameters<typeof userRoute>[0]>[0]["api"]) {
  const raw = (textField(form, "threshold") ?? "").trim();
  try {
    await api.caller.autoTopUp.set({
      enabled: textField(form, "enabled") === "on",
      threshold: /^\d{1,10}$/.test(raw) ? Number(raw) : -1,
      packageId: textField(form, "packageId") ?? "",
      currency: textField(form, "currency") || undefined,
    });
  } catch (error) {
    const failure = formFailure(error, "autoTopUp");
    if (!failure) throw error;
    return data({ autoTopUpError: failure.errors.form }, failure.status);
  }
  return redirect("/account");
}

async function removeCard(api: Parameters<Parameters<typeof userRoute>[0]>[0]["api"]) {
  try {
    await api.caller.autoTopUp.removeCard();
  } catch (error) {
    const failure = formFailure(error, "removeCard");
    if (!failure) throw error;
    return data({ removeCardError: failure.errors.form }, failure.status);
  }
  return redirect("/account");
}

export default function Account() {
  const { user, sessions, alerts, autoTopUp, packs } = useLoaderData<typeof loader>();
  const actionData = useActionResult<typeof action>();
  const deletion = actionData && "error" in actionData ? actionData : undefined;
  const navigation = useNavigation();
  const submitting = navigation.state === "submitting" && navigation.formAction === "/account";
  const deleting = submitting && navigation.formData?.get("intent") === "delete";
  const savingAlert = submitting && navigation.formData?.get("intent") === "alerts";
  const signingOut = submitting && !deleting && !savingAlert;
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

      <LowBalanceAlertForm
        threshold={alerts.lowBalanceThreshold}
        isDefault={alerts.isDefault}
        error={actionData && "alertError" in actionData ? actionData.alertError : undefined}
        saving={savingAlert}
      />

      <AutoTopUpForm
        settings={autoTopUp}
        packs={packs}
        error={actionData && "autoTopUpError" in actionData ? actionData.autoTopUpError : undefined}
        saving={submitting && navigation.formData?.get("intent") === "autoTopUp"}
        removeError={actionData && "removeCardError" in actionData ? actionData.removeCardError : undefined}
        removing={submitting && navigation.formData?.get("intent") === "removeCard"}
      />

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

      <Card>
        <h2 className="text-lg font-semibold text-slate-900">Your data</h2>
        <p className="mt-1 text-sm text-slate-600">
          A copy of everything we keep about you: your profile, balance, payments and their refunds, credit history,
          holds, auto top-up, sessions and API keys, as a JSON file.
        </p>
        <a href="/account/export" download className={buttonClass("secondary", "mt-4")}>
          Download my data
        </a>
      </Card>

      <Card className="border-rose-200">
        <h2 className="text-lg font-semibold text-slate-900">Delete account</h2>
        <p className="mt-1 text-sm text-slate-600">
          Deleting your account erases your personal data, ends every session and revokes your API keys. Unused credits
          are lost. Payment and credit records stay for the books, with nothing left that identifies you.
        </p>
        <details className="group mt-4" open={Boolean(deletion?.error)}>
          <summary className={buttonClass("secondary", "cursor-pointer list-none !text-rose-700 group-open:mb-4")}>
            Delete my account…
          </summary>
          <Form method="post" className="max-w-sm space-y-4 rounded-xl border border-rose-200 bg-rose-50/50 p-4">
            <input type="hidden" name="intent" value="delete" />
            <p className="text-sm font-medium text-rose-900">This cannot be undone. Enter your password to confirm.</p>
            <Field
              label="Password"
              name="password"
              type="password"
              autoComplete="current-password"
              required
              error={deletion?.error}
            />
            <Button type="submit" tone="danger" disabled={deleting} pending={deleting} pendingLabel="Deleting…">
              Delete my account
            </Button>
          </Form>
        </details>
      </Card>
    </div>
  );
}
