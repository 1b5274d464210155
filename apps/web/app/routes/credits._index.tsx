import { data, type MetaFunction, redirectDocument } from "@remix-run/node";
import { Form, Link, useLoaderData, useNavigation } from "@remix-run/react";
import { BalanceBreakdown } from "../components/grants.tsx";
import { TransactionList } from "../components/transactions.tsx";
import { Alert, Badge, Button, buttonClass, Card, EmptyState } from "../components/ui.tsx";
import { useActionResult } from "../lib/action-result.ts";
import { formFailure } from "../lib/errors.server.ts";
import { formatCredits, formatMoney } from "../lib/format.ts";
import { textField } from "../lib/forms.ts";
import { REPORT_COST } from "../lib/report.ts";
import { userRoute } from "../lib/route.server.ts";

// The demo feature: a "report" that costs a few credits, spent through the same procedure as
// internal tools use (credits.spend), as the signed-in user.
const KEY_PATTERN = /^[0-9a-f-]{36}$/;

export const meta: MetaFunction = () => [{ title: "Your credits · Credits" }];

export const loader = userRoute(async ({ api, request }) => {
  const [history, catalog] = await Promise.all([api.caller.credits.mine({ limit: 5 }), api.caller.packages.list()]);
  // ?package=<id> (the auto top-up failure mail's link to pay on-session) pre-selects that pack;
  // only the id of a pack on sale counts, anything else selects nothing.
  const wanted = new URL(request.url).searchParams.get("package");
  const selected = catalog.packages.find((pack) => pack.id === wanted) ?? null;
  return {
    selectedPackageId: selected?.id ?? null,
    balance: history.balance,
    grants: history.grants,
    nextExpiry: history.nextExpiry,
    recent: history.transactions,
    packages: catalog.packages,
    reportCost: REPORT_COST,
    // One key per rendering of the form: a double submit (or a resent POST) spends once.
    reportKey: crypto.randomUUID(),
    // Likewise for Buy: a double submit opens one payment and one provider session.
    checkoutKey: crypto.randomUUID(),
  };
});

export const action = userRoute(async ({ request, api }) => {
  const form = await request.formData();
  const intent = textField(form, "intent");

  if (intent === "buy") {
    const packageId = textField(form, "packageId");
    const checkoutKey = textField(form, "checkoutKey");
    // One of the pack's currencies (the router refuses another); absent: the pack's default price.
    const currency = textField(form, "currency");
    try {
      const { checkoutUrl } = await api.caller.checkout.create({
        packageId,
        ...(currency ? { currency } : {}),
        // Per pack and currency: going back and choosing another is another checkout.
        ...(KEY_PATTERN.test(checkoutKey) ? { idempotencyKey: `${checkoutKey}:${packageId}:${currency}` } : {}),
      });
      // A full page load: the checkout (Stripe's, or the local test page) is not a route of this app.
      return redirectDocument(checkoutUrl);
    } catch (error) {
      const failure = formFailure(error, "checkout");
      if (!failure) throw error;
      return data({ intent: "buy" as const, packageId, error: failure.errors.form }, { status: failure.status });
    }
  }

  if (intent === "report") {
    const key = textField(form, "idempotencyKey");
    if (!KEY_PATTERN.test(key)) {
      return data({ intent: "report" as const, ok: false as const, error: "This form expired. Try again." }, 400);
    }
    try {
      const spent = await api.caller.credits.spend({
        amount: REPORT_COST,
        idempotencyKey: `web-report:${key}`,
        reason: "Usage report (demo)",
      });
      return {
        intent: "report" as const,
        ok: true as const,
        balance: spent.balance,
        transactionId: spent.transactionId,
      };
    } catch (error) {
      const failure = formFailure(error, "report");
      if (!failure) throw error;
      return data(
        { intent: "report" as const, ok: false as const, error: failure.errors.form },
        { status: failure.status },
      );
    }
  }

  return data({ intent: null, error: "Unknown action." }, { status: 400 });
});

export default function Credits() {
  const { balance, grants, nextExpiry, recent, packages, reportCost, reportKey, checkoutKey, selectedPackageId } =
    useLoaderData<typeof loader>();
  const result = useActionResult<typeof action>();
  const navigation = useNavigation();
  const submitting = navigation.state !== "idle" ? navigation.formData : undefined;
  const buyingId = submitting?.get("intent") === "buy" ? submitting.get("packageId") : null;
  const reporting = submitting?.get("intent") === "report";
  const report = result?.intent === "report" ? result : null;
  const buyError = result?.intent === "buy" ? result : null;

  return (
    <div className="space-y-8">
      <div className="grid gap-6 lg:grid-cols-5">
        <section
          aria-labelledby="balance-heading"
          className="rounded-2xl bg-gradient-to-br from-indigo-600 to-violet-600 p-6 text-white shadow-md lg:col-span-3"
        >
          <h1 id="balance-heading" className="text-sm font-medium text-indigo-100">
            Your balance
          </h1>
          <p className="mt-2 text-5xl font-bold tracking-tight" data-testid="balance">
            {formatCredits(balance)}
          </p>
          <BalanceBreakdown grants={grants} nextExpiry={nextExpiry} />
          <div className="mt-6 flex flex-wrap gap-3">
            <a
              href="#packs"
              className="rounded-lg bg-white px-4 py-2.5 text-sm font-semibold text-indigo-700 shadow-sm hover:bg-indigo-50"
            >
              Buy credits
            </a>
            <Link
              to="/credits/history"
              className="rounded-lg px-4 py-2.5 text-sm font-semibold text-white ring-1 ring-white/40 hover:bg-white/10"
            >
              View history
            </Link>
          </div>
        </section>

        <Card className="lg:col-span-2">
          <h2 id="report-heading" className="text-lg font-semibold text-slate-900">
            Run a usage report
          </h2>
          <p className="mt-1 text-sm text-slate-600">
            A demo feature: each report costs <strong>{formatCredits(reportCost)}</strong>, taken from your balance.
          </p>
          <Form method="post" className="mt-5 space-y-4" aria-labelledby="report-heading">
            <input type="hidden" name="intent" value="report" />
            <input type="hidden" name="idempotencyKey" value={reportKey} />
            {report?.ok ? (
              <Alert tone="success" title="Report ready">
                {formatCredits(reportCost)} used. Your balance is now {formatCredits(report.balance)}.
              </Alert>
            ) : report ? (
              <Alert tone="error" title="Report not run">
                {report.error}
              </Alert>
            ) : null}
            <Button
              type="submit"
              className="w-full"
              disabled={reporting}
              pending={reporting}
              pendingLabel="Running the report…"
            >
              Run report ({formatCredits(reportCost)})
            </Button>
          </Form>
        </Card>
      </div>

      <section aria-labelledby="packs-heading" id="packs" className="scroll-mt-6">
        <div className="mb-4 flex flex-wrap items-baseline justify-between gap-2">
          <h2 id="packs-heading" className="text-xl font-semibold text-slate-900">
            Buy credits
          </h2>
          <p className="text-sm text-slate-500">One-time payment. Credits are added as soon as it clears.</p>
        </div>
        {packages.length === 0 ? (
          <EmptyState title="No packs on sale right now">Check back soon: new packs are added regularly.</EmptyState>
        ) : (
          <ul className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
            {packages.map((pack) => {
              const busy = buyingId === pack.id;
              const selected = selectedPackageId === pack.id;
              return (
                <li key={pack.id} aria-current={selected ? "true" : undefined}>
                  <Card className={selected ? "flex h-full flex-col ring-2 ring-indigo-600" : "flex h-full flex-col"}>
                    <div className="flex items-start justify-between gap-2">
                      <h3 className="font-semibold text-slate-900">{pack.name}</h3>
                      {selected ? (
                        <Badge tone="brand">Selected</Badge>
                      ) : pack.highlight ? (
                        <Badge tone="brand">Best value</Badge>
                      ) : null}
                    </div>
                    <p className="mt-3 text-3xl font-bold text-slate-900">{formatCredits(pack.credits)}</p>
                    <p className="mt-1 text-slate-600">
                      {pack.prices.map((price) => formatMoney(price.unitAmount, price.currency)).join(" · ")}
                    </p>
                    {pack.creditExpiryDays ? (
                      <p className="mt-1 text-sm text-slate-500">
                        Credits expire {pack.creditExpiryDays} days after purchase
                      </p>
                    ) : null}
                    {buyError?.packageId === pack.id ? (
                      <p className="mt-3 text-sm font-medium text-rose-700" role="alert">
                        {buyError.error}
                      </p>
                    ) : null}
                    <Form method="post" className="mt-auto pt-5">
                      <input type="hidden" name="intent" value="buy" />
                      <input type="hidden" name="packageId" value={pack.id} />
                      <input type="hidden" name="checkoutKey" value={checkoutKey} />
                      {pack.prices.length > 1 ? (
                        <label className="mb-3 block text-sm font-medium text-slate-700">
                          Pay in
                          <select
                            name="currency"
                            defaultValue={pack.currency}
                            className="mt-1 block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-slate-900"
                          >
                            {pack.prices.map((price) => (
                              <option key={price.currency} value={price.currency}>
                                {price.currency.toUpperCase()}: {formatMoney(price.unitAmount, price.currency)}
                              </option>
                            ))}
                          </select>
                        </label>
                      ) : null}
                      <Button
                        type="submit"
                        className="w-full"
                        tone="secondary"
                        disabled={buyingId !== null}
                        pending={busy}
                        pendingLabel="Opening checkout…"
                        // The pack the link chose: its Buy button is focused (and so scrolled to).
                        autoFocus={selected}
                        aria-label={`Buy ${pack.name}: ${formatCredits(pack.credits)}`}
                      >
                        Buy
                      </Button>
                    </Form>
                  </Card>
                </li>
              );
            })}
          </ul>
        )}
      </section>

      <section aria-labelledby="recent-heading">
        <div className="mb-4 flex items-baseline justify-between gap-2">
          <h2 id="recent-heading" className="text-xl font-semibold text-slate-900">
            Recent activity
          </h2>
          {recent.length > 0 ? (
            <Link to="/credits/history" className="text-sm font-medium text-indigo-700 hover:underline">
              See all
            </Link>
          ) : null}
        </div>
        {recent.length === 0 ? (
          <EmptyState
            title="No activity yet"
            action={
              <a href="#packs" className={buttonClass("primary")}>
                Buy your first pack
              </a>
            }
          >
            Purchases and spending will show up here.
          </EmptyState>
        ) : (
          <TransactionList transactions={recent} />
        )}
      </section>
    </div>
  );
}
