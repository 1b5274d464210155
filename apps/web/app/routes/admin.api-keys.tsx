import { MAX_API_KEY_NAME_LENGTH } from "@credits/api/limits";
import { data, type MetaFunction } from "@remix-run/node";
import { Form, useLoaderData, useNavigation } from "@remix-run/react";
import { describeLimits, LimitInputs, type LimitValues, parseLimitFields } from "../components/api-key-limits.tsx";
import { Alert, Badge, Button, Card, EmptyState, Field, PageHeader } from "../components/ui.tsx";
import { useActionResult } from "../lib/action-result.ts";
import { formFailure, type Messages } from "../lib/errors.server.ts";
import { formatDateTime } from "../lib/format.ts";
import { textField } from "../lib/forms.ts";
import { adminRoute } from "../lib/route.server.ts";

// The scopes an API key can hold (the router validates them again).
const scopes = [
  { value: "credits:read", label: "Read balances and history" },
  { value: "credits:spend", label: "Spend credits (and hold them)" },
  { value: "credits:grant", label: "Grant credits" },
] as const;
type Scope = (typeof scopes)[number]["value"];
const isScope = (value: string): value is Scope => scopes.some((s) => s.value === value);

export const meta: MetaFunction = () => [{ title: "API keys · Admin · Credits" }];

export const loader = adminRoute(async ({ api }) => {
  const { apiKeys } = await api.caller.admin.listApiKeys();
  return { apiKeys };
});

export const action = adminRoute(async ({ request, api }) => {
  const form = await request.formData();
  const intent = textField(form, "intent");

  if (intent === "revoke") {
    const id = textField(form, "id");
    try {
      await api.caller.admin.revokeApiKey({ id });
      return { intent: "revoke" as const, id, error: null };
    } catch (error) {
      const failure = formFailure(error, "revokeKey");
      if (!failure) throw error;
      return data({ intent: "revoke" as const, id, error: failure.errors.form ?? null }, { status: failure.status });
    }
  }

  const name = textField(form, "name").trim();
  const chosen = form
    .getAll("scopes")
    .filter((s): s is string => typeof s === "string")
    .filter(isScope);
  const { limits, values: limitValues, error: limitsError } = parseLimitFields(form);
  const values = { name, scopes: chosen, limits: limitValues as LimitValues };
  const errors: Messages = {};
  if (!name) errors.name = "Give the key a name, e.g. the tool that will use it.";
  else if (name.length > MAX_API_KEY_NAME_LENGTH) errors.name = `Use at most ${MAX_API_KEY_NAME_LENGTH} characters.`;
  if (chosen.length === 0) errors.scopes = "Choose at least one permission.";
  if (limitsError) errors.limits = limitsError;
  if (Object.keys(errors).length > 0) {
    return data({ intent: "create" as const, errors, values, created: null }, 400);
  }
  try {
    const created = await api.caller.admin.createApiKey({ name, scopes: chosen, limits });
    return { intent: "create" as const, errors: {} as Messages, values: null, created };
  } catch (error) {
    const failure = formFailure(error, "createKey");
    if (!failure) throw error;
    return data(
      { intent: "create" as const, errors: failure.errors, values, created: null },
      { status: failure.status },
    );
  }
});

export default function Admin() {
  const { apiKeys } = useLoaderData<typeof loader>();
  const result = useActionResult<typeof action>();
  const navigation = useNavigation();
  const pending = navigation.state === "submitting" ? navigation.formData : undefined;
  const creating = pending?.get("intent") === "create";
  const create = result?.intent === "create" ? result : null;
  const revoke = result?.intent === "revoke" ? result : null;
  const active = apiKeys.filter((key) => !key.revokedAt).length;

  return (
    <div className="space-y-6">
      <PageHeader
        title="API keys"
        description="API keys let internal tools read and spend credits through the REST API and the typed client. A key answers to you: it stops working if you are erased or stop being an admin, and its grants follow your approval rule."
      />

      {create?.created ? (
        <Alert tone="success" title={`API key “${create.created.name}” created`}>
          <p>Copy it now: it is shown only once and cannot be recovered.</p>
          <code
            className="mt-2 block rounded-lg bg-white px-3 py-2 font-mono text-sm break-all text-slate-900 ring-1 ring-emerald-200"
            data-testid="new-api-key"
          >
            {create.created.key}
          </code>
        </Alert>
      ) : null}

      <div className="grid gap-6 lg:grid-cols-3">
        <Card className="lg:col-span-1">
          <h2 id="create-key-heading" className="text-lg font-semibold text-slate-900">
            Create an API key
          </h2>
          <Form method="post" className="mt-4 space-y-5" aria-labelledby="create-key-heading">
            <input type="hidden" name="intent" value="create" />
            {create?.errors.form ? <Alert tone="error">{create.errors.form}</Alert> : null}
            <Field
              key={create?.created?.id ?? "new"}
              label="Name"
              name="name"
              required
              maxLength={MAX_API_KEY_NAME_LENGTH}
              placeholder="billing-tool"
              hint="Kept in the audit log forever: name the tool, not a person."
              defaultValue={create?.values?.name}
              error={create?.errors.name}
            />
            <fieldset aria-describedby={create?.errors.scopes ? "scopes-error" : undefined}>
              <legend className="text-sm font-medium text-slate-800">Permissions</legend>
              <div className="mt-2 space-y-2">
                {scopes.map((scope) => (
                  <label key={scope.value} className="flex items-start gap-3 text-sm text-slate-700">
                    <input
                      type="checkbox"
                      name="scopes"
                      value={scope.value}
                      defaultChecked={create?.values?.scopes.includes(scope.value)}
                      className="mt-0.5 size-4 accent-indigo-600"
                    />
                    <span>
                      <span className="font-mono text-xs text-slate-900">{scope.value}</span>
                      <span className="block text-slate-500">{scope.label}</span>
                    </span>
                  </label>
                ))}
              </div>
              {create?.errors.scopes ? (
                <p id="scopes-error" className="mt-2 text-sm font-medium text-rose-700">
                  {create.errors.scopes}
                </p>
              ) : null}
            </fieldset>
            <LimitInputs
              key={`limits-${create?.created?.id ?? "new"}`}
              values={create?.values?.limits}
              error={create?.errors.limits}
            />
            <Button type="submit" className="w-full" disabled={creating} pending={creating} pendingLabel="Creating…">
              Create key
            </Button>
          </Form>
        </Card>

        <section aria-labelledby="keys-heading" className="lg:col-span-2">
          <div className="mb-3 flex items-baseline justify-between">
            <h2 id="keys-heading" className="text-lg font-semibold text-slate-900">
              API keys
            </h2>
            <p className="text-sm text-slate-500">{active} active</p>
          </div>
          {revoke?.error ? (
            <div className="mb-3">
              <Alert tone="error">{revoke.error}</Alert>
            </div>
          ) : null}
          {apiKeys.length === 0 ? (
            <EmptyState title="No API keys yet">
              Create one for each tool that needs to read or spend credits.
            </EmptyState>
          ) : (
            <ul className="divide-y divide-slate-100 rounded-2xl border border-slate-200 bg-white shadow-sm">
              {apiKeys.map((key) => {
                const revoking = pending?.get("intent") === "revoke" && pending.get("id") === key.id;
                return (
                  <li key={key.id} className="flex flex-wrap items-start justify-between gap-3 px-4 py-4">
                    <div className="min-w-0">
                      <p className="flex flex-wrap items-center gap-2 font-medium text-slate-900">
                        {key.name}
                        {key.revokedAt ? <Badge tone="negative">Revoked</Badge> : <Badge tone="positive">Active</Badge>}
                      </p>
                      <p className="mt-1 font-mono text-xs text-slate-500">{key.prefix}…</p>
                      <p className="mt-2 flex flex-wrap gap-1.5">
                        {key.scopes.map((scope) => (
                          <Badge key={scope}>{scope}</Badge>
                        ))}
                      </p>
                      <p className="mt-2 text-sm text-slate-700">
                        {key.owner ? `Owner: ${key.owner.email ?? "(erased)"}` : "No owner: refused, make a new key"}
                        {" · "}
                        {describeLimits(key.limits)}
                      </p>
                      <p className="mt-2 text-xs text-slate-500">
                        Created {formatDateTime(key.createdAt)} ·{" "}
                        {key.lastUsedAt ? `last used ${formatDateTime(key.lastUsedAt)}` : "never used"}
                        {key.revokedAt ? ` · revoked ${formatDateTime(key.revokedAt)}` : ""}
                      </p>
                    </div>
                    {key.revokedAt ? null : (
                      <Form method="post">
                        <input type="hidden" name="intent" value="revoke" />
                        <input type="hidden" name="id" value={key.id} />
                        <Button
                          type="submit"
                          tone="secondary"
                          disabled={revoking}
                          pending={revoking}
                          pendingLabel="Revoking…"
                          aria-label={`Revoke ${key.name}`}
                        >
                          Revoke
                        </Button>
                      </Form>
                    )}
                  </li>
                );
              })}
            </ul>
          )}
        </section>
      </div>
    </div>
  );
}
