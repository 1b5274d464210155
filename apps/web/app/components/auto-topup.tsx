import { Form } from "@remix-run/react";
import { useState } from "react";
import { formatDateTime, formatMoney } from "../lib/format.ts";
import { Badge, Button, buttonClass, Card, Field } from "./ui.tsx";

export interface AutoTopUpView {
  enabled: boolean;
  threshold: number | null;
  packageId: string | null;
  currency: string | null;
  price: Price | null;
  cardSaved: boolean;
  consecutiveFailures: number;
  disabledReason: string | null;
  caps: { perDay: number; perMonth: number; amountPerDayMinor: number | null; amountPerMonthMinor: number | null };
  lastAttempt: { status: string; cause: string | null; createdAt: string } | null;
}

interface Price {
  currency: string;
  unitAmount: number;
}

export interface AutoTopUpPack {
  id: string;
  name: string;
  credits: number;
  // The first is the pack's default price.
  prices: Price[];
}

const attemptLabels: Record<string, string> = {
  pending: "waiting to charge",
  processing: "charging",
  succeeded: "succeeded",
  failed: "failed",
  skipped: "skipped",
};

// The amount caps in the chosen currency, e.g. ", up to $200.00 a day and $1,000.00 a month".
function amountCaps({ caps, currency }: AutoTopUpView): string {
  if (!currency || caps.amountPerDayMinor === null || caps.amountPerMonthMinor === null) return "";
  if (caps.amountPerDayMinor === 0 || caps.amountPerMonthMinor === 0)
    return `; not offered in ${currency.toUpperCase()}`;
  const day = formatMoney(caps.amountPerDayMinor, currency);
  return `, up to ${day} a day and ${formatMoney(caps.amountPerMonthMinor, currency)} a month`;
}

// Auto top-up on /account: the choice (on or off, threshold, pack), whether a card is saved, the
// last attempt, and why it was turned off after failures.
export function AutoTopUpForm({
  settings,
  packs,
  error,
  saving,
  removeError,
  removing,
}: {
  settings: AutoTopUpView;
  packs: AutoTopUpPack[];
  error?: string | undefined;
  saving: boolean;
  removeError?: string | undefined;
  removing: boolean;
}) {
  const last = settings.lastAttempt;
  // The currency choices follow the pack chosen in the form (the saved currency while it is the saved pack).
  const [packageId, setPackageId] = useState(settings.packageId ?? packs[0]?.id ?? "");
  const prices = packs.find((pack) => pack.id === packageId)?.prices ?? [];
  const savedCurrency = packageId === settings.packageId ? settings.currency : null;
  return (
    <Card>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 className="text-lg font-semibold text-slate-900">Auto top-up</h2>
        <Badge tone={settings.enabled ? "positive" : "neutral"}>{settings.enabled ? "On" : "Off"}</Badge>
      </div>
      <p className="mt-1 text-sm text-slate-600">
        When a spend takes your balance below the threshold, we buy the pack with your saved card, once each time (at
        most {settings.caps.perDay} a day and {settings.caps.perMonth} a month{amountCaps(settings)}).
      </p>
      <p className="mt-2 text-sm text-slate-700" data-testid="auto-topup-card">
        {settings.cardSaved
          ? "Card saved for auto top-up."
          : "No card saved yet: your next purchase on the Credits page saves it."}
      </p>
      {settings.cardSaved ? <RemoveCard error={removeError} removing={removing} /> : null}
      {settings.packageId ? (
        <p className="mt-2 text-sm text-slate-700" data-testid="auto-topup-price">
          {settings.price
            ? `Each top-up charges ${formatMoney(settings.price.unitAmount, settings.price.currency)}.`
            : `This pack is no longer sold in ${(settings.currency ?? "").toUpperCase()}: choose a pack and currency again.`}
        </p>
      ) : null}
      {settings.disabledReason ? (
        <p className="mt-2 text-sm font-medium text-rose-700" role="alert">
          Auto top-up was {settings.disabledReason}. Check your card, then turn it on again.
        </p>
      ) : null}
      {last ? (
        <p className="mt-2 text-sm text-slate-600" data-testid="auto-topup-last">
          Last top-up: {attemptLabels[last.status] ?? last.status}
          {last.cause ? ` (${last.cause.replaceAll("_", " ")})` : ""}, {formatDateTime(last.createdAt)}.
        </p>
      ) : null}
      <Form method="post" className="mt-4 flex flex-wrap items-end gap-3">
        <input type="hidden" name="intent" value="autoTopUp" />
        <label className="flex items-center gap-2 text-sm text-slate-800">
          <input type="checkbox" name="enabled" value="on" defaultChecked={settings.enabled} />
          Turn on auto top-up
        </label>
        <Field
          label="Top up below (credits)"
          name="threshold"
          type="number"
          inputMode="numeric"
          min={1}
          step={1}
          defaultValue={settings.threshold ?? ""}
          error={error}
        />
        <label className="flex flex-col gap-1 text-sm text-slate-800">
          Pack
          <select
            name="packageId"
            value={packageId}
            onChange={(event) => setPackageId(event.target.value)}
            className="rounded-md border border-slate-300 px-3 py-2"
          >
            {packs.map((pack) => (
              <option key={pack.id} value={pack.id}>
                {pack.name} ({pack.credits} credits)
              </option>
            ))}
          </select>
        </label>
        <label className="flex flex-col gap-1 text-sm text-slate-800">
          Price
          <select
            key={packageId}
            name="currency"
            defaultValue={savedCurrency ?? prices[0]?.currency}
            className="rounded-md border border-slate-300 px-3 py-2"
          >
            {prices.map((price) => (
              <option key={price.currency} value={price.currency}>
                {formatMoney(price.unitAmount, price.currency)} ({price.currency.toUpperCase()})
              </option>
            ))}
          </select>
        </label>
        <Button type="submit" tone="secondary" pending={saving} pendingLabel="Saving…">
          Save auto top-up
        </Button>
      </Form>
    </Card>
  );
}

// Removing the card asks first (a second button inside the opened details): it turns auto top-up off.
function RemoveCard({ error, removing }: { error?: string | undefined; removing: boolean }) {
  return (
    <details className="group mt-2" open={Boolean(error)}>
      <summary className={buttonClass("secondary", "cursor-pointer list-none group-open:mb-3")}>Remove card…</summary>
      <Form method="post" className="max-w-md space-y-3 rounded-xl border border-rose-200 bg-rose-50/50 p-4">
        <input type="hidden" name="intent" value="removeCard" />
        <p className="text-sm text-rose-900">
          Auto top-up turns off and the card is removed from our payment provider. Your next purchase can save a card
          again.
        </p>
        {error ? (
          <p className="text-sm font-medium text-rose-700" role="alert">
            {error}
          </p>
        ) : null}
        <Button type="submit" tone="danger" pending={removing} pendingLabel="Removing…">
          Remove the card
        </Button>
      </Form>
    </details>
  );
}
