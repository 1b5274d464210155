import { data, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData, useNavigation } from "@remix-run/react";
import { PaymentList } from "../components/payments.tsx";
import { TransactionList } from "../components/transactions.tsx";
import { Alert, Button, buttonClass, cx, EmptyState, Field, PageHeader, Pager } from "../components/ui.tsx";
import { publicErrorOf } from "../lib/errors.server.ts";
import { kindLabels, ledgerKinds } from "../lib/format.ts";
import {
  apiWindow,
  historyHref,
  nextPage,
  PAGE_SIZE,
  pageNumber,
  parseHistoryQuery,
  previousPage,
} from "../lib/history-query.ts";
import { userRoute } from "../lib/route.server.ts";

export const meta: MetaFunction = () => [{ title: "History · Credits" }];

export const loader = userRoute(async ({ request, api }) => {
  const { query, errors } = parseHistoryQuery(new URL(request.url).searchParams);
  const input = {
    limit: PAGE_SIZE,
    order: query.order,
    ...(query.kinds.length > 0 ? { kind: query.kinds } : {}),
    ...(query.cursor ? { cursor: query.cursor } : {}),
    ...apiWindow(query),
  };
  try {
    const [history, { payments }] = await Promise.all([api.caller.credits.mine(input), api.caller.checkout.payments()]);
    return { query, errors, ...history, payments, cursorInvalid: false };
  } catch (error) {
    // A cursor from an old or edited link: say so, and offer the first page.
    if (publicErrorOf(error)?.appCode !== "INVALID_INPUT" || !query.cursor) throw error;
    return data(
      { query, errors, balance: null, transactions: [], payments: [], nextCursor: null, cursorInvalid: true },
      { status: 400 },
    );
  }
});

export default function History() {
  const { query, errors, transactions, payments, nextCursor, cursorInvalid } = useLoaderData<typeof loader>();
  const navigation = useNavigation();
  const loading = navigation.state === "loading" && navigation.location.pathname === "/credits/history";
  const filtered = query.kinds.length > 0 || query.from !== "" || query.to !== "";
  const previous = previousPage(query);
  const page = pageNumber(query);

  return (
    <div>
      <PageHeader title="History" description="Every credit in and out of your account, newest first by default." />

      <Form
        key={[...query.kinds, query.from, query.to, query.order].join("|")}
        method="get"
        className="mb-6 rounded-2xl border border-slate-200 bg-white p-5 shadow-sm"
        aria-label="Filter history"
      >
        <fieldset>
          <legend className="text-sm font-medium text-slate-800">Kind</legend>
          <div className="mt-2 flex flex-wrap gap-2">
            {ledgerKinds.map((kind) => (
              <label
                key={kind}
                className="flex cursor-pointer items-center gap-2 rounded-full border border-slate-300 px-3 py-1.5 text-sm text-slate-700 has-checked:border-indigo-500 has-checked:bg-indigo-50 has-checked:text-indigo-800"
              >
                <input
                  type="checkbox"
                  name="kind"
                  value={kind}
                  defaultChecked={query.kinds.includes(kind)}
                  className="size-4 accent-indigo-600"
                />
                {kindLabels[kind]}
              </label>
            ))}
          </div>
        </fieldset>
        <div className="mt-5 grid grid-cols-2 items-start gap-4 lg:grid-cols-4">
          <Field
            id="history-from"
            name="from"
            label="From (UTC)"
            type="date"
            defaultValue={query.from}
            error={errors.from}
          />
          <Field id="history-to" name="to" label="To (UTC)" type="date" defaultValue={query.to} error={errors.to} />
          <div className="col-span-2 sm:col-span-1">
            <label htmlFor="order" className="block text-sm font-medium text-slate-800">
              Sort
            </label>
            <select
              id="order"
              name="order"
              defaultValue={query.order}
              className="mt-1.5 block h-11 w-full rounded-lg border border-slate-300 bg-white px-3 text-slate-900"
            >
              <option value="desc">Newest first</option>
              <option value="asc">Oldest first</option>
            </select>
          </div>
          <div className="col-span-2 flex gap-3 sm:col-span-1 lg:pt-[1.625rem]">
            <Button type="submit" className="h-11 flex-1 sm:flex-none">
              Apply
            </Button>
            {filtered || query.order !== "desc" ? (
              <Link to="/credits/history" className={buttonClass("ghost", "h-11")}>
                Clear
              </Link>
            ) : null}
          </div>
        </div>
      </Form>

      <div aria-busy={loading} className={cx("transition-opacity", loading && "opacity-60")}>
        {cursorInvalid ? (
          <Alert tone="warning" title="This page link is out of date">
            <Link to={historyHref(query, { cursor: null, trail: [] })} className="font-medium underline">
              Go to the first page
            </Link>
          </Alert>
        ) : transactions.length === 0 ? (
          filtered ? (
            <EmptyState
              title="Nothing matches these filters"
              action={
                <Link to="/credits/history" className={buttonClass("secondary")}>
                  Clear filters
                </Link>
              }
            >
              Try more kinds or a wider date range.
            </EmptyState>
          ) : (
            <EmptyState
              title={page > 1 ? "No more activity" : "No activity yet"}
              action={
                <Link to="/credits#packs" className={buttonClass("primary")}>
                  Buy credits
                </Link>
              }
            >
              Purchases, spending and adjustments will be listed here.
            </EmptyState>
          )
        ) : (
          <TransactionList transactions={transactions} caption={`Credit history, page ${page}`} />
        )}
      </div>

      {cursorInvalid ? null : (
        <Pager
          page={page}
          previous={previous ? historyHref(query, previous) : null}
          next={nextCursor ? historyHref(query, nextPage(query, nextCursor)) : null}
        />
      )}

      <PaymentList payments={payments} />
    </div>
  );
}
