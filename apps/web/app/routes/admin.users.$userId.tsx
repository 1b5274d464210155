import { DEFAULT_PAGE_SIZE, MAX_REASON_LENGTH } from "@credits/api/limits";
import { data, type MetaFunction } from "@remix-run/node";
import { Form, Link, type useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { AdminPayments } from "../components/admin-payments.tsx";
import { GrantTable, GrantTermsFields } from "../components/grants.tsx";
import { TransactionList } from "../components/transactions.tsx";
import { Alert, Badge, Button, buttonClass, Card, EmptyState, Field, PageHeader } from "../components/ui.tsx";
import { useActionResult } from "../lib/action-result.ts";
import { adjustAction } from "../lib/adjust-form.server.ts";
import { emailsFor, isUuid } from "../lib/admin.server.ts";
import { publicErrorOf } from "../lib/errors.server.ts";
import { formatCredits, formatDate, formatDateTime } from "../lib/format.ts";
import { textField } from "../lib/forms.ts";
import { isPageCursor, pageCursor } from "../lib/page-cursor.ts";
import { refundAction } from "../lib/refund-form.server.ts";
import { adminRoute } from "../lib/route.server.ts";

export const meta: MetaFunction<typeof loader> = ({ data: loaded }) => [
  { title: `${loaded?.user.email ?? "User"} · Admin · Credits` },
];

function ledgerHref(userId: string, cursor: string | null, trail: string[]) {
  if (!cursor) return `/admin/users/${userId}#ledger`;
  const params = new URLSearchParams({ cursor });
  if (trail.length) params.set("trail", trail.join("."));
  return `/admin/users/${userId}?${params}#ledger`;
}

export const loader = adminRoute(async ({ request, params, api, user }) => {
  const userId = params.userId ?? "";
  if (!isUuid(userId)) throw data("no such user", { status: 404 });
  const url = new URL(request.url);
  const cursorParam = url.searchParams.get("cursor");
  const cursor = pageCursor(cursorParam);
  const trail = cursor ? (url.searchParams.get("trail") ?? "").split(".").filter(isPageCursor).slice(-50) : [];
  const [account, ledger] = await Promise.all([
    api.caller.admin.user({ userId }),
    api.caller.credits.ofUser({ userId, limit: DEFAULT_PAGE_SIZE, ...(cursor ? { cursor } : {}) }).catch((error) => {
      // An out-of-date page link: the first page instead.
      if (cursor && publicErrorOf(error)?.appCode === "INVALID_INPUT") return null;
      throw error;
    }),
  ]);
  return {
    ...account,
    ledger: ledger ?? { balance: account.user.balance, transactions: [], nextCursor: null },
    cursorInvalid: ledger === null,
    cursor,
    trail,
    // One key per rendering of a form: a double submit (or a resent POST) adjusts or refunds once.
    adjustKey: crypto.randomUUID(),
    refundKey: crypto.randomUUID(),
    emails: await emailsFor(
      api,
      account.payments.flatMap((p) => p.refunds.flatMap((r) => [r.requestedBy, r.decidedBy])),
    ),
    me: user.id,
  };
});

export const action = adminRoute(async ({ request, params, api }) => {
  const userId = params.userId ?? "";
  if (!isUuid(userId)) throw data("no such user", { status: 404 });
  const form = await request.formData();
  if (textField(form, "intent") === "refund") return refundAction(api, userId, form);
  return adjustAction(api, userId, form);
});

type Loaded = ReturnType<typeof useLoaderData<typeof loader>>;
type AdjustOutcome = Extract<NonNullable<ReturnType<typeof useActionData<typeof action>>>, { intent: "adjust" }>;

export default function AdminUser() {
  const { user, holds, payments, grants, ledger, cursor, trail, cursorInvalid, adjustKey, refundKey, emails, me } =
    useLoaderData<typeof loader>();
  const navigation = useNavigation();
  // From the form's POST until the page's data is loaded again after it (the buttons stay busy).
  const submitting = navigation.state !== "idle" && navigation.formMethod === "POST";
  // The router publishes the action's answer when it starts reloading the page's data, not when
  // that reload answers: shown at once, "Refund sent" stood next to the balance from before the
  // refund (seen on PostgreSQL, where the reload is slower). The answer waits for the data it speaks of.
  const reloading = navigation.state === "loading" && navigation.formMethod === "POST";
  const answer = useActionResult<typeof action>();
  const settled = reloading ? undefined : answer;
  const outcome = settled?.intent === "adjust" ? settled : undefined;
  const refundOutcome = settled?.intent === "refund" ? settled : undefined;
  const adjusting = submitting && navigation.formData?.get("intent") !== "refund";
  const refunding = submitting && navigation.formData?.get("intent") === "refund";

  return (
    <div className="space-y-6">
      <UserHeader user={user} />
      <div className="grid gap-6 lg:grid-cols-3">
        <AccountCard user={user} holds={holds} />
        <AdjustCard balance={user.balance} outcome={outcome} adjustKey={adjustKey} adjusting={adjusting} />
      </div>

      <section aria-labelledby="grants-heading">
        <h2 id="grants-heading" className="mb-3 text-lg font-semibold text-slate-900">
          Grants
        </h2>
        {grants.length === 0 ? (
          <EmptyState title="No grants">Credits bought, granted or added by an admin appear here.</EmptyState>
        ) : (
          <GrantTable grants={grants} />
        )}
      </section>

      <LedgerSection user={user} ledger={ledger} cursor={cursor} trail={trail} cursorInvalid={cursorInvalid} />

      <section aria-labelledby="payments-heading">
        <h2 id="payments-heading" className="mb-3 text-lg font-semibold text-slate-900">
          Payments
        </h2>
        <AdminPayments
          payments={payments}
          emails={emails}
          me={me}
          refundKey={refundKey}
          outcome={refundOutcome}
          busyPaymentId={refunding ? String(navigation.formData?.get("paymentId") ?? "") : null}
        />
      </section>

      <div className="grid gap-6 lg:grid-cols-2">
        <HoldsSection holds={holds} />
      </div>
    </div>
  );
}

function UserHeader({ user }: { user: Loaded["user"] }) {
  return (
    <>
      <p>
        <Link to="/admin/users" className="text-sm font-medium text-indigo-700 underline-offset-4 hover:underline">
          ← Users
        </Link>
      </p>
      <PageHeader
        title={user.email ?? "Erased user"}
        description={
          <span className="flex flex-wrap items-center gap-2">
            <span className="font-mono text-xs">{user.id}</span>
            {user.role === "admin" ? <Badge tone="brand">Admin</Badge> : <Badge>User</Badge>}
            {user.erased ? <Badge tone="negative">Erased</Badge> : null}
            {user.disputed ? <Badge tone="warning">Disputed</Badge> : null}
          </span>
        }
        actions={
          user.erased ? null : (
            <Link to={`/admin/users/${user.id}/erase`} className={buttonClass("secondary")}>
              Erase (GDPR)…
            </Link>
          )
        }
      />
    </>
  );
}

function AccountCard({ user, holds }: { user: Loaded["user"]; holds: Loaded["holds"] }) {
  const activeHolds = holds.filter((h) => h.status === "active");
  return (
    <Card className="lg:col-span-1">
      <dl className="space-y-4">
        <div>
          <dt className="text-sm text-slate-500">Balance</dt>
          <dd className="mt-1 text-3xl font-bold text-slate-900 tabular-nums" data-testid="user-balance">
            {formatCredits(user.balance)}
          </dd>
        </div>
        <div>
          <dt className="text-sm text-slate-500">Held</dt>
          <dd className="mt-1 font-medium text-slate-900">
            {activeHolds.length
              ? `${formatCredits(activeHolds.reduce((t, h) => t + h.amount, 0))} in ${activeHolds.length} active ${activeHolds.length === 1 ? "hold" : "holds"}`
              : "Nothing held"}
          </dd>
        </div>
        <div>
          <dt className="text-sm text-slate-500">Member since</dt>
          <dd className="mt-1 font-medium text-slate-900">{formatDate(user.createdAt)}</dd>
        </div>
      </dl>
    </Card>
  );
}

function AdjustCard({
  balance,
  outcome,
  adjustKey,
  adjusting,
}: {
  balance: number;
  outcome: AdjustOutcome | undefined;
  adjustKey: string;
  adjusting: boolean;
}) {
  return (
    <Card className="lg:col-span-2">
      <h2 id="adjust-heading" className="text-lg font-semibold text-slate-900">
        Adjust the balance
      </h2>
      <p className="mt-1 text-sm text-slate-600">Large amounts wait for a second admin's approval before they apply.</p>
      {outcome?.ok && outcome.result ? (
        <div className="mt-4">
          {outcome.result.status === "applied" ? (
            <Alert tone="success" title="Adjustment applied">
              The new balance is {formatCredits(outcome.result.balance ?? balance)}.
            </Alert>
          ) : (
            <Alert tone="warning" title="Waiting for approval">
              This amount needs another admin's approval: it is in the{" "}
              <Link to="/admin/approvals" className="font-medium underline">
                approvals queue
              </Link>
              . The balance has not changed yet.
            </Alert>
          )}
        </div>
      ) : null}
      <Form method="post" className="mt-4 grid gap-4 sm:grid-cols-2" aria-labelledby="adjust-heading" key={adjustKey}>
        <input type="hidden" name="intent" value="adjust" />
        <input type="hidden" name="idempotencyKey" value={adjustKey} />
        {outcome?.errors.form ? (
          <div className="sm:col-span-2">
            <Alert tone="error">{outcome.errors.form}</Alert>
          </div>
        ) : null}
        <Field
          label="Amount (credits)"
          name="amount"
          inputMode="numeric"
          required
          placeholder="500 or -200"
          hint="Positive adds credits, negative removes them."
          defaultValue={outcome?.values?.amount}
          error={outcome?.errors.amount}
        />
        <Field
          label="Reason"
          name="reason"
          required
          maxLength={MAX_REASON_LENGTH}
          placeholder="Goodwill for the outage of 3 March"
          hint="Kept in the audit log forever, even if the user is erased: no personal data (names, emails, what they wrote)."
          defaultValue={outcome?.values?.reason}
          error={outcome?.errors.reason}
        />
        <GrantTermsFields values={outcome?.values} errors={outcome?.errors} />
        <div className="sm:col-span-2">
          <Button type="submit" disabled={adjusting} pending={adjusting} pendingLabel="Adjusting…">
            Adjust balance
          </Button>
        </div>
      </Form>
    </Card>
  );
}

function LedgerSection({
  user,
  ledger,
  cursor,
  trail,
  cursorInvalid,
}: Pick<Loaded, "user" | "ledger" | "cursor" | "trail" | "cursorInvalid">) {
  const page = cursor ? trail.length + 2 : 1;
  const previous = cursor ? { cursor: trail.at(-1) ?? null, trail: trail.slice(0, -1) } : null;
  const next = ledger.nextCursor ? { cursor: ledger.nextCursor, trail: cursor ? [...trail, cursor] : [] } : null;
  return (
    <section aria-labelledby="ledger-heading" id="ledger">
      <div className="mb-3 flex items-baseline justify-between">
        <h2 id="ledger-heading" className="text-lg font-semibold text-slate-900">
          Ledger
        </h2>
        <span className="text-sm text-slate-500">Page {page}</span>
      </div>
      {cursorInvalid ? (
        <Alert tone="warning" title="This page link is out of date">
          <Link to={ledgerHref(user.id, null, [])} className="font-medium underline">
            Go to the first page
          </Link>
        </Alert>
      ) : ledger.transactions.length === 0 ? (
        <EmptyState title={page > 1 ? "No more activity" : "No activity yet"}>
          Purchases, spending and adjustments for this user will be listed here.
        </EmptyState>
      ) : (
        <TransactionList
          transactions={ledger.transactions}
          caption={`Ledger of ${user.email ?? user.id}, page ${page}`}
        />
      )}
      {previous || next ? (
        <nav aria-label="Ledger pages" className="mt-4 flex items-center justify-between gap-3">
          {previous ? (
            <Link
              to={ledgerHref(user.id, previous.cursor, previous.trail)}
              className={buttonClass("secondary")}
              rel="prev"
            >
              ← Previous
            </Link>
          ) : (
            <span />
          )}
          {next ? (
            <Link to={ledgerHref(user.id, next.cursor, next.trail)} className={buttonClass("secondary")} rel="next">
              Next →
            </Link>
          ) : (
            <span />
          )}
        </nav>
      ) : null}
    </section>
  );
}

function HoldsSection({ holds }: { holds: Loaded["holds"] }) {
  return (
    <section aria-labelledby="holds-heading">
      <h2 id="holds-heading" className="mb-3 text-lg font-semibold text-slate-900">
        Holds
      </h2>
      {holds.length === 0 ? (
        <EmptyState title="No holds">Credits reserved by a tool before it spends them appear here.</EmptyState>
      ) : (
        <ul className="divide-y divide-slate-100 rounded-2xl border border-slate-200 bg-white shadow-sm">
          {holds.map((h) => (
            <li key={h.id} className="flex flex-wrap items-start justify-between gap-2 px-4 py-3 text-sm">
              <span>
                <span className="block font-medium text-slate-900">
                  {formatCredits(h.amount)}
                  {h.capturedAmount !== null ? ` · captured ${formatCredits(h.capturedAmount)}` : ""}
                </span>
                <span className="block text-slate-500">
                  {formatDateTime(h.createdAt)} · expires {formatDateTime(h.expiresAt)}
                </span>
              </span>
              <Badge tone={h.status === "active" ? "warning" : "neutral"}>{h.status}</Badge>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
