import type { RouterInputs } from "@credits/api";
import { data, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { Alert, Badge, Button, Card, EmptyState, Field, PageHeader } from "../components/ui.tsx";
import { formFailure, type Messages } from "../lib/errors.server.ts";
import { formatDateTime } from "../lib/format.ts";
import { textField } from "../lib/forms.ts";
import { adminRoute } from "../lib/route.server.ts";

type EventNames = RouterInputs["admin"]["createWebhookEndpoint"]["events"];

export const meta: MetaFunction = () => [{ title: "Webhooks · Admin · Credits" }];

export const loader = adminRoute(async ({ api }) => api.caller.admin.listWebhookEndpoints());

export const action = adminRoute(async ({ request, api }) => {
  const form = await request.formData();
  const intent = textField(form, "intent");
  if (intent === "disable" || intent === "enable") {
    const id = textField(form, "id");
    try {
      if (intent === "disable") await api.caller.admin.disableWebhookEndpoint({ id });
      else await api.caller.admin.enableWebhookEndpoint({ id });
      return { intent, errors: {} as Messages, values: null, created: null };
    } catch (error) {
      const failure = formFailure(error, "webhookEndpoint");
      if (!failure) throw error;
      return data({ intent, errors: failure.errors, values: null, created: null }, { status: failure.status });
    }
  }
  const url = textField(form, "url").trim();
  const events = form.getAll("events").filter((e): e is string => typeof e === "string");
  const values = { url, events };
  const errors: Messages = {};
  if (!url) errors.url = "Enter the URL to deliver to.";
  if (events.length === 0) errors.events = "Choose at least one event.";
  if (Object.keys(errors).length > 0) return data({ intent: "create", errors, values, created: null }, 400);
  try {
    // The router checks each name against the event list.
    const created = await api.caller.admin.createWebhookEndpoint({ url, events: events as EventNames });
    return { intent: "create", errors: {} as Messages, values: null, created };
  } catch (error) {
    const failure = formFailure(error, "webhookEndpoint");
    if (!failure) throw error;
    return data({ intent: "create", errors: failure.errors, values, created: null }, { status: failure.status });
  }
});

export default function Webhooks() {
  const { endpoints, eventTypes } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const creating = navigation.state === "submitting" && navigation.formData?.get("intent") === "create";
  const create = result?.intent === "create" ? result : null;
  return (
    <div className="space-y-6">
      <PageHeader
        title="Webhooks"
        description="Other systems learn what happened here from signed HTTP POSTs (Standard Webhooks). Failed deliveries are retried for about a day; an endpoint that keeps failing is disabled."
      />
      {create?.created ? (
        <Alert tone="success" title="Endpoint registered">
          <p>Copy its signing secret now: it is shown only once.</p>
          <code
            className="mt-2 block rounded-lg bg-white px-3 py-2 font-mono text-sm break-all text-slate-900 ring-1 ring-emerald-200"
            data-testid="new-webhook-secret"
          >
            {create.created.secret}
          </code>
        </Alert>
      ) : null}
      {result && result.intent !== "create" && result.errors.form ? (
        <Alert tone="error">{result.errors.form}</Alert>
      ) : null}
      <div className="grid gap-6 lg:grid-cols-3">
        <Card className="lg:col-span-1">
          <h2 id="create-endpoint-heading" className="text-lg font-semibold text-slate-900">
            Register an endpoint
          </h2>
          <Form method="post" className="mt-4 space-y-5" aria-labelledby="create-endpoint-heading">
            <input type="hidden" name="intent" value="create" />
            {create?.errors.form ? <Alert tone="error">{create.errors.form}</Alert> : null}
            <Field
              key={create?.created?.id ?? "new"}
              label="URL"
              name="url"
              required
              maxLength={2048}
              placeholder="https://example.com/hooks/credits"
              hint="https, on a public address."
              defaultValue={create?.values?.url}
              error={create?.errors.url}
            />
            <fieldset>
              <legend className="text-sm font-medium text-slate-800">Events</legend>
              <div className="mt-2 space-y-1.5">
                {eventTypes.map((type) => (
                  <label key={type} className="flex items-center gap-3 text-sm text-slate-700">
                    <input
                      type="checkbox"
                      name="events"
                      value={type}
                      defaultChecked={create?.values?.events.includes(type)}
                      className="size-4 accent-indigo-600"
                    />
                    <span className="font-mono text-xs text-slate-900">{type}</span>
                  </label>
                ))}
              </div>
              {create?.errors.events ? (
                <p className="mt-2 text-sm font-medium text-rose-700">{create.errors.events}</p>
              ) : null}
            </fieldset>
            <Button type="submit" className="w-full" disabled={creating} pending={creating} pendingLabel="Registering…">
              Register endpoint
            </Button>
          </Form>
        </Card>
        <section aria-labelledby="endpoints-heading" className="lg:col-span-2">
          <h2 id="endpoints-heading" className="mb-3 text-lg font-semibold text-slate-900">
            Endpoints
          </h2>
          {endpoints.length === 0 ? (
            <EmptyState title="No endpoints yet">
              Register one for each system that should hear about events.
            </EmptyState>
          ) : (
            <ul className="divide-y divide-slate-100 rounded-2xl border border-slate-200 bg-white shadow-sm">
              {endpoints.map((endpoint) => (
                <li key={endpoint.id} className="flex flex-wrap items-start justify-between gap-3 px-4 py-4">
                  <div className="min-w-0">
                    <p className="flex flex-wrap items-center gap-2 font-mono text-sm break-all text-slate-900">
                      {endpoint.url}
                      {endpoint.status === "enabled" ? (
                        <Badge tone="positive">Enabled</Badge>
                      ) : (
                        <Badge tone="negative">Disabled</Badge>
                      )}
                    </p>
                    <p className="mt-2 flex flex-wrap gap-1.5">
                      {endpoint.events.map((type) => (
                        <Badge key={type}>{type}</Badge>
                      ))}
                    </p>
                    <p className="mt-2 text-xs text-slate-500">
                      Registered {formatDateTime(endpoint.createdAt)}
                      {endpoint.disabledReason ? ` · ${endpoint.disabledReason}` : ""}
                    </p>
                    <Link
                      to={`/admin/webhooks/${endpoint.id}`}
                      className="mt-2 inline-block text-sm font-medium text-indigo-700 underline-offset-4 hover:underline"
                    >
                      Delivery log
                    </Link>
                  </div>
                  <Form method="post">
                    <input type="hidden" name="id" value={endpoint.id} />
                    <input type="hidden" name="intent" value={endpoint.status === "enabled" ? "disable" : "enable"} />
                    <Button type="submit" tone="secondary">
                      {endpoint.status === "enabled" ? "Disable" : "Enable"}
                    </Button>
                  </Form>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
    </div>
  );
}
