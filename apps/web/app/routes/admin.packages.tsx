import { MAX_NAME_LENGTH, PACKAGE_LIMITS } from "@credits/api/limits";
import { data, type MetaFunction } from "@remix-run/node";
import { Form, useLoaderData, useNavigation } from "@remix-run/react";
import { AwaitingPacks, PackAction } from "../components/awaiting-packs.tsx";
import { Alert, Badge, Button, Card, EmptyState, Field, PageHeader } from "../components/ui.tsx";
import { useActionResult } from "../lib/action-result.ts";
import { formFailure, type Messages } from "../lib/errors.server.ts";
import { formatCredits, formatDateTime, formatMoney } from "../lib/format.ts";
import { textField } from "../lib/forms.ts";
import { pricesText, readPackForm } from "../lib/pack-form.ts";
import { adminRoute } from "../lib/route.server.ts";

export const meta: MetaFunction = () => [{ title: "Packs · Admin · Credits" }];

export const loader = adminRoute(async ({ api, user }) => {
  const { packages } = await api.caller.admin.packages();
  // One key per rendering of the create form: a double submit makes one pack.
  return { packages, createKey: crypto.randomUUID(), me: user.id };
});

export const action = adminRoute(async ({ request, api }) => {
  const form = await request.formData();
  const intent = textField(form, "intent");
  const id = textField(form, "id");
  if (intent === "archive" || intent === "approve") {
    try {
      if (intent === "approve") await api.caller.admin.approvePackage({ id });
      else await api.caller.admin.archivePackage({ id });
      return { intent, id, errors: {} as Messages, values: null };
    } catch (error) {
      const failure = formFailure(error, "pack");
      if (!failure) throw error;
      return data({ intent, id, errors: failure.errors, values: null }, { status: failure.status });
    }
  }
  const { fields, values, errors } = readPackForm(form);
  if (Object.keys(errors).length > 0) return data({ intent, id, errors, values }, 400);
  try {
    if (intent === "update") await api.caller.admin.updatePackage({ id, ...fields });
    else await api.caller.admin.createPackage({ ...fields, idempotencyKey: textField(form, "key") || undefined });
    return { intent, id, errors: {} as Messages, values: null };
  } catch (error) {
    const failure = formFailure(error, "pack");
    if (!failure) throw error;
    return data({ intent, id, errors: failure.errors, values }, { status: failure.status });
  }
});

type Pack = ReturnType<typeof useLoaderData<typeof loader>>["packages"][number];

// One form for a new pack and for an edit: the same fields, the same checks.
function PackForm({
  pack,
  createKey,
  result,
}: {
  pack?: Pack;
  createKey?: string;
  result?: { errors: Messages; values: Record<string, string> | null };
}) {
  const navigation = useNavigation();
  const busy = navigation.state === "submitting" && navigation.formData?.get("id") === (pack?.id ?? "");
  const values = result?.values;
  const errors = result?.errors ?? {};
  const prefix = pack ? `pack-${pack.id}` : "new-pack";
  return (
    <Form method="post" className="space-y-4" aria-label={pack ? `Edit ${pack.name}` : "Create a pack"}>
      <input type="hidden" name="intent" value={pack ? "update" : "create"} />
      <input type="hidden" name="id" value={pack?.id ?? ""} />
      {createKey ? <input type="hidden" name="key" value={createKey} /> : null}
      {errors.form ? <Alert tone="error">{errors.form}</Alert> : null}
      <Field
        label="Name"
        name="name"
        required
        maxLength={MAX_NAME_LENGTH}
        defaultValue={values?.name ?? pack?.name}
        error={errors.name}
      />
      <Field
        label="Credits"
        name="credits"
        inputMode="numeric"
        required
        defaultValue={values?.credits ?? pack?.credits}
        error={errors.credits}
      />
      <div>
        <label htmlFor={`${prefix}-prices`} className="block text-sm font-medium text-slate-800">
          Prices
        </label>
        <textarea
          id={`${prefix}-prices`}
          name="prices"
          rows={3}
          required
          placeholder={"usd 4.99\njpy 700"}
          defaultValue={values?.prices ?? (pack ? pricesText(pack.prices) : "")}
          aria-describedby={`${prefix}-prices-hint`}
          className="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2 font-mono text-sm"
        />
        <p id={`${prefix}-prices-hint`} className="mt-1 text-xs text-slate-500">
          One per line: a currency code and the amount in its own units. The first is the default.
        </p>
        {errors.prices ? <p className="mt-1 text-sm font-medium text-rose-700">{errors.prices}</p> : null}
      </div>
      <Field
        label="Credits expire after (days)"
        name="creditExpiryDays"
        inputMode="numeric"
        hint={`Empty: never. At most ${PACKAGE_LIMITS.creditExpiryDays.max}.`}
        defaultValue={values?.creditExpiryDays ?? pack?.creditExpiryDays ?? ""}
        error={errors.creditExpiryDays}
      />
      <Field
        label="Position"
        name="position"
        inputMode="numeric"
        hint="Lower shows first."
        defaultValue={values?.position ?? pack?.position ?? 0}
        error={errors.position}
      />
      <label className="flex items-center gap-2 text-sm text-slate-700">
        <input
          type="checkbox"
          name="highlight"
          defaultChecked={values ? values.highlight === "on" : pack?.highlight}
          className="size-4 accent-indigo-600"
        />
        Show as “Best value”
      </label>
      <Button type="submit" className="w-full" disabled={busy} pending={busy} pendingLabel="Saving…">
        {pack ? "Save changes" : "Create pack"}
      </Button>
    </Form>
  );
}

export default function AdminPackages() {
  const { packages, createKey, me } = useLoaderData<typeof loader>();
  const result = useActionResult<typeof action>();
  const resultFor = (id: string) =>
    result && result.id === id && result.intent !== "archive" && result.intent !== "approve" ? result : undefined;
  const onSale = packages.filter((p) => !p.archivedAt && !p.awaitingApproval);
  const awaiting = packages.filter((p) => !p.archivedAt && p.awaitingApproval);
  const archived = packages.filter((p) => p.archivedAt);
  return (
    <div className="space-y-6">
      <PageHeader
        title="Packs"
        description="What is sold, at which prices. A change applies to checkouts started after it: a payment keeps the credits, price and expiry it was sold with. A pack priced below every pack on sale waits for a second admin. Every change is in the audit log."
      />
      <div className="grid gap-6 lg:grid-cols-3">
        <Card className="lg:col-span-1">
          <h2 className="mb-4 text-lg font-semibold text-slate-900">Create a pack</h2>
          <PackForm key={createKey} createKey={createKey} result={resultFor("")} />
        </Card>
        <section aria-labelledby="packs-heading" className="space-y-3 lg:col-span-2">
          <AwaitingPacks packs={awaiting} me={me} />
          <h2 id="packs-heading" className="text-lg font-semibold text-slate-900">
            On sale ({onSale.length})
          </h2>
          {(result?.intent === "archive" || result?.intent === "approve") && result.errors.form ? (
            <Alert tone="error">{result.errors.form}</Alert>
          ) : null}
          {onSale.length === 0 ? (
            <EmptyState title="Nothing on sale">Create a pack to start selling.</EmptyState>
          ) : null}
          <ul className="space-y-3">
            {onSale.map((pack) => (
              <li key={pack.id} className="rounded-2xl border border-slate-200 bg-white p-4 shadow-sm">
                <div className="flex flex-wrap items-start justify-between gap-3">
                  <div>
                    <p className="flex items-center gap-2 font-medium text-slate-900">
                      {pack.name} {pack.highlight ? <Badge tone="brand">Best value</Badge> : null}
                    </p>
                    <p className="text-sm text-slate-700">
                      {formatCredits(pack.credits)} ·{" "}
                      {pack.prices.map((p) => formatMoney(p.unitAmount, p.currency)).join(" · ")}
                    </p>
                    <p className="text-xs text-slate-500">
                      Position {pack.position} ·{" "}
                      {pack.creditExpiryDays
                        ? `credits expire after ${pack.creditExpiryDays} days`
                        : "credits never expire"}
                    </p>
                  </div>
                  <PackAction pack={pack} intent="archive" />
                </div>
                <details
                  className="mt-3"
                  open={resultFor(pack.id) !== undefined && Boolean(resultFor(pack.id)?.values)}
                >
                  <summary className="cursor-pointer text-sm font-medium text-indigo-700">Edit {pack.name}</summary>
                  <div className="mt-3">
                    <PackForm pack={pack} result={resultFor(pack.id)} />
                  </div>
                </details>
              </li>
            ))}
          </ul>
          {archived.length > 0 ? (
            <>
              <h2 className="pt-4 text-lg font-semibold text-slate-900">Archived ({archived.length})</h2>
              <ul className="divide-y divide-slate-100 rounded-2xl border border-slate-200 bg-white text-sm">
                {archived.map((pack) => (
                  <li key={pack.id} className="px-4 py-3 text-slate-600">
                    {pack.name} · {formatCredits(pack.credits)} · archived {formatDateTime(pack.archivedAt ?? "")}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </section>
      </div>
    </div>
  );
}
