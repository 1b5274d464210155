import { MAX_EMAIL_LENGTH } from "@credits/api/limits";
import { toMajorUnits } from "@credits/api/money";
import type { MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { Chart } from "../components/charts.tsx";
import { Badge, Button, buttonClass, Card, PageHeader } from "../components/ui.tsx";
import { formatDateTime, formatMoney } from "../lib/format.ts";
import { adminRoute } from "../lib/route.server.ts";

export const meta: MetaFunction = () => [{ title: "Dashboard · Admin · Credits" }];

const DAYS = 30;
const integer = new Intl.NumberFormat("en");
const decimal = new Intl.NumberFormat("en", { maximumFractionDigits: 3 });
const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });
const currencyColors = ["text-emerald-600", "text-sky-600", "text-violet-600", "text-amber-600"];

export const loader = adminRoute(async ({ api }) => {
  const today = new Date();
  const start = new Date(today.getTime() - (DAYS - 1) * 86_400_000);
  const range = { from: start.toISOString().slice(0, 10), to: today.toISOString().slice(0, 10) };
  const [stats, approvals, runs] = await Promise.all([
    api.caller.admin.dailyStats(range),
    api.caller.admin.approvals(),
    api.caller.reconciliation.runs({ limit: 1 }),
  ]);
  return { range, days: stats.days, pending: approvals.adjustments.length, lastRun: runs.runs[0] ?? null };
});

export default function AdminDashboard() {
  const { range, days, pending, lastRun } = useLoaderData<typeof loader>();
  const labels = days.map((d) => d.day);
  const sum = (pick: (d: (typeof days)[number]) => number) => days.reduce((total, d) => total + pick(d), 0);
  const currencies = [...new Set(days.flatMap((d) => Object.keys(d.revenueMinor)))].sort();
  const only = currencies.length === 1 ? currencies[0] : undefined;
  const revenueTotals = currencies.map((c) =>
    formatMoney(
      sum((d) => d.revenueMinor[c] ?? 0),
      c,
    ),
  );

  return (
    <div className="space-y-6">
      <PageHeader title="Dashboard" description={`The last ${DAYS} days, ${range.from} to ${range.to} (UTC).`} />

      <dl className="grid grid-cols-2 gap-4 lg:grid-cols-4">
        <Stat label="Credits purchased" value={integer.format(sum((d) => d.purchased))} />
        <Stat label="Credits spent" value={integer.format(sum((d) => d.spent))} />
        <Stat label="Net adjustments" value={integer.format(sum((d) => d.adjusted))} />
        <Stat label="Revenue (by purchase day)" value={revenueTotals.length ? revenueTotals.join(" · ") : "None yet"} />
      </dl>

      <div className="grid gap-6 xl:grid-cols-2">
        <Chart
          testId="chart-credits"
          title="Credits per day"
          description="Purchased, spent and adjusted by admins."
          kind="bar"
          days={labels}
          format={(v) => integer.format(v)}
          axisFormat={(v) => compact.format(v)}
          series={[
            { label: "Purchased", colorClass: "text-indigo-600", values: days.map((d) => d.purchased) },
            { label: "Spent", colorClass: "text-amber-500", values: days.map((d) => d.spent) },
            { label: "Adjusted", colorClass: "text-slate-500", values: days.map((d) => d.adjusted) },
          ]}
        />
        {currencies.length === 0 ? (
          <figure
            className="flex flex-col rounded-2xl border border-slate-200 bg-white p-5 shadow-sm"
            data-testid="chart-revenue"
          >
            <figcaption className="font-semibold text-slate-900">Revenue per day</figcaption>
            <p className="my-auto py-10 text-center text-sm text-slate-500">
              No payments in the last {DAYS} days: the chart appears with the first one.
            </p>
          </figure>
        ) : (
          <Chart
            testId="chart-revenue"
            title="Revenue per day"
            // Booked on the day each payment was credited (ADR 012): a late refund or dispute moves
            // a past day, so the words say which day a figure belongs to.
            description="Paid less tax, refunds and disputes, per currency, by purchase day."
            kind="line"
            days={labels}
            // One currency: its minor units, formatted as money. Several: each in whole units of its
            // own (a yen and a dinar have different minor units), the series named by currency.
            format={(v) => (only ? formatMoney(v, only) : decimal.format(v))}
            axisFormat={(v) => (only ? formatMoney(v, only).replace(/\.0+$/, "") : compact.format(v))}
            series={currencies.map((c, i) => ({
              label: c.toUpperCase(),
              colorClass: currencyColors[i % currencyColors.length] ?? "text-emerald-600",
              values: days.map((d) => (only ? (d.revenueMinor[c] ?? 0) : toMajorUnits(d.revenueMinor[c] ?? 0, c))),
            }))}
          />
        )}
      </div>

      <div className="grid gap-6 lg:grid-cols-3">
        <Card>
          <h2 id="find-user-heading" className="text-lg font-semibold text-slate-900">
            Find a user
          </h2>
          <Form method="get" action="/admin/users" className="mt-4 space-y-3" aria-labelledby="find-user-heading">
            <label htmlFor="dashboard-q" className="block text-sm font-medium text-slate-800">
              Email or user id
            </label>
            <div className="flex gap-2">
              <input
                id="dashboard-q"
                name="q"
                type="search"
                maxLength={MAX_EMAIL_LENGTH}
                className="block w-full min-w-0 rounded-lg border border-slate-300 bg-white px-3 py-2.5 text-slate-900"
              />
              <Button type="submit">Search</Button>
            </div>
          </Form>
        </Card>
        <Card>
          <h2 className="text-lg font-semibold text-slate-900">Approvals</h2>
          <p className="mt-2 text-slate-600">
            {pending === 0
              ? "No adjustment is waiting for a decision."
              : `${pending} ${pending === 1 ? "adjustment is" : "adjustments are"} waiting for a decision.`}
          </p>
          <Link to="/admin/approvals" className={buttonClass("secondary", "mt-4")}>
            Open the queue
          </Link>
        </Card>
        <Card>
          <h2 className="text-lg font-semibold text-slate-900">Reconciliation</h2>
          {lastRun ? (
            <p className="mt-2 text-slate-600">
              Last run {formatDateTime(lastRun.startedAt)}{" "}
              <Badge
                tone={
                  lastRun.status === "succeeded" ? "positive" : lastRun.status === "failed" ? "negative" : "warning"
                }
              >
                {lastRun.status}
              </Badge>
            </p>
          ) : (
            <p className="mt-2 text-slate-600">No run yet.</p>
          )}
          <Link to="/admin/reconciliation" className={buttonClass("secondary", "mt-4")}>
            Runs and findings
          </Link>
        </Card>
      </div>
    </div>
  );
}

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <div className="rounded-2xl border border-slate-200 bg-white p-4 shadow-sm">
      <dt className="text-sm text-slate-500">{label}</dt>
      <dd className="mt-1 text-xl font-bold break-words text-slate-900 tabular-nums">{value}</dd>
    </div>
  );
}
