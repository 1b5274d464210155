import type { RouterOutputs } from "@credits/api";
import { Form, Link } from "@remix-run/react";
import { formatDateTime } from "../lib/format.ts";
import { Badge, Button, buttonClass } from "./ui.tsx";

type Endpoint = RouterOutputs["admin"]["listWebhookEndpoints"]["endpoints"][number];

// One endpoint on /admin/webhooks, with what an admin can do to it. Deleting asks once more.
export function WebhookEndpointRow({ endpoint }: { endpoint: Endpoint }) {
  const enabled = endpoint.status === "enabled";
  const host = new URL(endpoint.url).host;
  return (
    <li className="flex flex-wrap items-start justify-between gap-3 px-4 py-4" aria-label={endpoint.url}>
      <div className="min-w-0">
        <p className="flex flex-wrap items-center gap-2 font-mono text-sm break-all text-slate-900">
          {endpoint.url}
          {enabled ? <Badge tone="positive">Enabled</Badge> : <Badge tone="negative">Disabled</Badge>}
        </p>
        <p className="mt-2 flex flex-wrap gap-1.5">
          {endpoint.events.map((type) => (
            <Badge key={type}>{type}</Badge>
          ))}
        </p>
        <p className="mt-2 text-xs text-slate-500">
          Registered {formatDateTime(endpoint.createdAt)}
          {endpoint.disabledReason ? ` · ${endpoint.disabledReason}` : ""}
          {endpoint.previousSecretExpiresAt
            ? ` · previous secret signs until ${formatDateTime(endpoint.previousSecretExpiresAt)}`
            : ""}
        </p>
        <Link
          to={`/admin/webhooks/${endpoint.id}`}
          className="mt-2 inline-block text-sm font-medium text-indigo-700 underline-offset-4 hover:underline"
        >
          Delivery log
        </Link>
      </div>
      <div className="flex flex-wrap items-start gap-2">
        <Form method="post">
          <input type="hidden" name="id" value={endpoint.id} />
          <input type="hidden" name="intent" value={enabled ? "disable" : "enable"} />
          <Button type="submit" tone="secondary">
            {enabled ? "Disable" : "Enable"}
          </Button>
        </Form>
        <Form method="post">
          <input type="hidden" name="id" value={endpoint.id} />
          <input type="hidden" name="intent" value="rotate" />
          <Button type="submit" tone="secondary">
            Rotate secret
          </Button>
        </Form>
        <details className="group">
          <summary className={buttonClass("secondary", "cursor-pointer list-none !text-rose-700 group-open:mb-2")}>
            Delete…
          </summary>
          <Form method="post" className="max-w-xs space-y-2 rounded-xl border border-rose-200 bg-rose-50/50 p-3">
            <input type="hidden" name="id" value={endpoint.id} />
            <input type="hidden" name="intent" value="delete" />
            <p className="text-sm text-rose-900">
              Stop delivering to {host} and delete its delivery log. This cannot be undone.
            </p>
            <Button type="submit" tone="danger">
              Delete endpoint
            </Button>
          </Form>
        </details>
      </div>
    </li>
  );
}
