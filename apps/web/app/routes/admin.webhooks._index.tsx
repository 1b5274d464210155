import type { RouterInputs } from "@credits/api";
import { MAX_WEBHOOK_URL_LENGTH } from "@credits/api/limits";
import { data, type MetaFunction } from "@remix-run/node";
import { Form, type useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import type { ReactNode } from "react";
import { Alert, Button, Card, EmptyState, Field, PageHeader } from "../components/ui.tsx";
import { WebhookEndpointRow } from "../components/webhook-endpoint-row.tsx";
import { useActionResult } from "../lib/action-result.ts";
import { formFailure, type Messages } from "../lib/errors.server.ts";
import { formatDateTime } from "../lib/format.ts";
import { textField } from "../lib/forms.ts";
import { adminRoute, type UserRouteArgs } from "../lib/route.server.ts";

type EventNames = RouterInputs["admin"]["createWebhookEndpoint"]["events"];
type Api = UserRouteArgs["api"];

export const meta: MetaFunction = () => [{ title: "Webhooks · Admin · Credits" }];

export const loader = adminRoute(async ({ api }) => api.caller.admin.listWebhookEndpoints());

const done = { errors: {} as Messages, values: null, created: null, rotated: null, deleted: false };

// Enable, disable, rotate or delete: the same procedures as the REST API, audited there.
async function changeEndpoint(api: Api, intent: string, id: string) {
  const admin = api.caller.admin;
  try {
    if (intent === "disable") await admin.disableWebhookEndpoint({ id });
    else if (intent === "enable") await admin.enableWebhookEndpoint({ id });
    else if (intent === "delete")
      return { intent, ...done, deleted: (await admin.deleteWebhookEndpoint({ id })).deleted };
    else if (intent === "rotate") return { intent, ...done, rotated: await admin.rotateWebhookSecret({ id }) };
    else throw data("unknown action", { status: 400 });
    return { intent, ...done };
  } catch (error) {
    const failure = formFailure(error, "webhookEndpoint");
    if (!failure) throw error;
    return data({ intent, ...done, errors: failure.errors }, { status: failure.status });
  }
}

async function createEndpoint(api: Api, form: FormData) {
  const url = textField(form, "url").trim();
  const events = form.getAll("events").filter((e): e is string => typeof e === "string");
  const values = { url, events };
  const errors: Messages = {};
  if (!url) errors.url = "Enter the URL to deliver to.";
  if (events.length === 0) errors.events = "Choose at least one event.";
  if (Object.keys(errors).length > 0) return data({ intent: "create", ...done, errors, values }, 400);
  try {
    // The router checks each name against the event list.
    const created = await api.caller.admin.createWebhookEndpoint({ url, events: events as EventNames });
    return { intent: "create", ...done, created };
  } catch (error) {
    const failure = formFailure(error, "webhookEndpoint");
    if (!failure) throw error;
    return data({ intent: "create", ...done, errors: failure.errors, values }, { status: failure.status });
  }
}

export const action = adminRoute(async ({ request, api }) => {
  const form = await request.formData();
  const intent = textField(form, "intent");
  return intent === "create" ? createEndpoint(api, form) : changeEndpoint(api, intent, textField(form, "id"));
});

export default function Webhooks() {
  const { endpoints, eventTypes } = useLoaderData<typeof loader>();
  const result = useActionResult<typeof action>();
  const create = result?.intent === "create" ? result : null;
  return (
    <div className="space-y-6">
      <PageHeader
        title="Webhooks"
        description="Other systems learn what happened here from signed HTTP POSTs (Standard Webhooks). Failed deliveries are retried for about a day; an endpoint that keeps failing is disabled."
      />
      <Outcome result={result} />
      <div className="grid gap-6 lg:grid-cols-3">
        <CreateEndpoint eventTypes={eventTypes} create={create} />
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
                <WebhookEndpointRow key={endpoint.id} endpoint={endpoint} />
              ))}
            </ul>
          )}
        </section>
      </div>
    </div>
  );
}

type Result = ReturnType<typeof useActionData<typeof action>>;

// What the last action did: a secret shown once (new endpoint or rotation), a deletion, or why not.
function Outcome({ result }: { result: Result }) {
  if (!result) return null;
  if (result.created) return <SecretOnce title="Endpoint registered" secret={result.created.secret} />;
  if (result.rotated) {
    const until = result.rotated.endpoint.previousSecretExpiresAt;
    return (
      <SecretOnce title="Secret rotated" secret={result.rotated.secret}>
        {until ? (
          <p className="mt-2">
            The previous secret keeps signing beside it until {formatDateTime(until)}: update the receiver before then.
          </p>
        ) : null}
      </SecretOnce>
    );
  }
  if (result.deleted) return <Alert tone="success">Endpoint deleted, with its delivery log.</Alert>;
  if (result.intent !== "create" && result.errors.form) return <Alert tone="error">{result.errors.form}</Alert>;
  return null;
}

function SecretOnce({ title, secret, children }: { title: string; secret: string; children?: ReactNode }) {
  return (
    <Alert tone="success" title={title}>
      <p>Copy its signing secret now: it is shown only once.</p>
      <code
        className="mt-2 block rounded-lg bg-white px-3 py-2 font-mono text-sm break-all text-slate-900 ring-1 ring-emerald-200"
        data-testid="new-webhook-secret"
      >
        {secret}
      </code>
      {children}
    </Alert>
  );
}

type Create = NonNullable<Result> | null;

function CreateEndpoint({ eventTypes, create }: { eventTypes: string[]; create: Create }) {
  const navigation = useNavigation();
  const creating = navigation.state === "submitting" && navigation.formData?.get("intent") === "create";
  return (
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
          maxLength={MAX_WEBHOOK_URL_LENGTH}
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
  );
}
