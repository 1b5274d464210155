import { data, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { Alert, Badge, Button, buttonClass, EmptyState, PageHeader } from "../components/ui.tsx";
import { useActionResult } from "../lib/action-result.ts";
import { isUuid } from "../lib/admin.server.ts";
import { formFailure } from "../lib/errors.server.ts";
import { formatDateTime } from "../lib/format.ts";
import { textField } from "../lib/forms.ts";
import { pageCursor } from "../lib/page-cursor.ts";
import { adminRoute } from "../lib/route.server.ts";

export const meta: MetaFunction = () => [{ title: "Delivery log · Webhooks · Admin · Credits" }];

const PAGE_SIZE = 20;

export const loader = adminRoute(async ({ request, params, api }) => {
  const id = params.endpointId ?? "";
  if (!isUuid(id)) throw data("no such endpoint", { status: 404 });
  const { endpoints } = await api.caller.admin.listWebhookEndpoints();
  const endpoint = endpoints.find((e) => e.id === id);
  if (!endpoint) throw data("no such endpoint", { status: 404 });
  const cursor = pageCursor(new URL(request.url).searchParams.get("cursor"));
  // A cursor from an edited link is the 400 page (the wrapper's).
  const page = await api.caller.admin.listWebhookDeliveries({ id, limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) });
  return { endpoint, ...page, cursor };
});

export const action = adminRoute(async ({ request, api }) => {
  const form = await request.formData();
  const id = textField(form, "deliveryId");
  try {
    await api.caller.admin.replayWebhookDelivery({ id });
    return { replayed: id, error: null };
  } catch (error) {
    const failure = formFailure(error, "webhookDelivery");
    if (!failure) throw error;
    return data({ replayed: null, error: failure.errors.form ?? null }, { status: failure.status });
  }
});

const statusTone = { succeeded: "positive", failed: "negative", pending: "warning" } as const;

export default function DeliveryLog() {
  const { endpoint, deliveries, nextCursor, cursor } = useLoaderData<typeof loader>();
  const result = useActionResult<typeof action>();
  return (
    <div className="space-y-6">
      <p>
        <Link to="/admin/webhooks" className="text-sm font-medium text-indigo-700 underline-offset-4 hover:underline">
          ← All endpoints
        </Link>
      </p>
      <PageHeader title="Delivery log" description={<span className="font-mono break-all">{endpoint.url}</span>} />
      {result?.replayed ? (
        <Alert tone="success">Queued again: it will be delivered with the same webhook-id.</Alert>
      ) : null}
      {result?.error ? <Alert tone="error">{result.error}</Alert> : null}
      {deliveries.length === 0 ? (
        <EmptyState title="No deliveries yet">Events this endpoint subscribes to will show here.</EmptyState>
      ) : (
        <ul className="space-y-4">
          {deliveries.map((delivery) => (
            <li key={delivery.id} className="rounded-2xl border border-slate-200 bg-white p-4 shadow-sm">
              <div className="flex flex-wrap items-start justify-between gap-3">
                <div>
                  <p className="flex flex-wrap items-center gap-2 text-sm text-slate-900">
                    <span className="font-mono">{delivery.eventType}</span>
                    <Badge tone={statusTone[delivery.status]}>{delivery.status}</Badge>
                  </p>
                  <p className="mt-1 font-mono text-xs text-slate-500">webhook-id {delivery.eventId}</p>
                  <p className="mt-1 text-xs text-slate-500">
                    {delivery.attempts} {delivery.attempts === 1 ? "attempt" : "attempts"}
                    {delivery.nextAttemptAt ? ` · next ${formatDateTime(delivery.nextAttemptAt)}` : ""}
                  </p>
                </div>
                <Form method="post">
                  <input type="hidden" name="deliveryId" value={delivery.id} />
                  <Button type="submit" tone="secondary" aria-label={`Replay ${delivery.eventId}`}>
                    Replay
                  </Button>
                </Form>
              </div>
              {delivery.log.length > 0 ? (
                <table className="mt-3 w-full text-left text-sm">
                  <caption className="sr-only">Attempts of {delivery.eventId}</caption>
                  <thead className="text-xs text-slate-500">
                    <tr>
                      <th className="py-1 pr-3 font-medium">#</th>
                      <th className="py-1 pr-3 font-medium">When</th>
                      <th className="py-1 pr-3 font-medium">Status</th>
                      <th className="py-1 pr-3 font-medium">Latency</th>
                      <th className="py-1 font-medium">Response</th>
                    </tr>
                  </thead>
                  <tbody className="divide-y divide-slate-100">
                    {delivery.log.map((attempt) => (
                      <tr key={attempt.attempt}>
                        <td className="py-1 pr-3">{attempt.attempt}</td>
                        <td className="py-1 pr-3 whitespace-nowrap">{formatDateTime(attempt.startedAt)}</td>
                        <td className="py-1 pr-3">{attempt.statusCode ?? attempt.error ?? "no answer"}</td>
                        <td className="py-1 pr-3">{attempt.latencyMs} ms</td>
                        <td className="py-1 font-mono text-xs break-all text-slate-600">
                          {attempt.responseExcerpt ?? ""}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      <nav aria-label="Delivery log pages" className="flex justify-between">
        {cursor ? (
          <Link to="?" className={buttonClass("secondary")}>
            ← Newest
          </Link>
        ) : (
          <span />
        )}
        {nextCursor ? (
          <Link to={`?cursor=${encodeURIComponent(nextCursor)}`} className={buttonClass("secondary")} rel="next">
            Older deliveries →
          </Link>
        ) : null}
      </nav>
    </div>
  );
}
