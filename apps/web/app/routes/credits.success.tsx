import { data, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData, useRevalidator } from "@remix-run/react";
import { useEffect, useState } from "react";
import { buttonClass, Card, Spinner } from "../components/ui.tsx";
import { publicErrorOf } from "../lib/errors.server.ts";
import { formatCredits, formatMoney } from "../lib/format.ts";
import { userRoute } from "../lib/route.server.ts";

const POLL_INTERVAL_MS = 2_000;
// Past this the page stops asking and says the credits will come with the payment.
const MAX_POLLS = 30;

export const meta: MetaFunction = () => [{ title: "Payment · Credits" }];

type State = "credited" | "processing" | "review" | "failed" | "not_found";

// The return from checkout. checkout.confirm asks the provider about the session and credits the
// payment if it is paid (the same once-only path as the webhook), so the page does not depend on
// the webhook having arrived first.
export const loader = userRoute(async ({ request, api }) => {
  const sessionId = new URL(request.url).searchParams.get("session_id");
  if (!sessionId || sessionId.length > 255) {
    throw data("missing checkout session", { status: 400 });
  }
  try {
    const { payment, balance } = await api.caller.checkout.confirm({ sessionId });
    const state: State = payment.credited
      ? "credited"
      : payment.underReview
        ? "review"
        : ["failed", "expired", "canceled"].includes(payment.status)
          ? "failed"
          : "processing";
    return {
      state,
      balance,
      credits: payment.credits,
      // What was paid once credited (a promotion code may have taken some or all of the price).
      price: formatMoney(payment.amountPaidMinor ?? payment.amountMinor, payment.currency),
      paymentId: payment.id,
    };
  } catch (error) {
    const code = publicErrorOf(error)?.appCode;
    // This page polls confirm, and confirm shares the per-user checkout limit (each call asks the
    // provider): past it, the payment is still processing as far as we can tell, not an error.
    if (code === "RATE_LIMITED") {
      return { state: "processing" as State, balance: null, credits: null, price: null, paymentId: null };
    }
    // A session id that is not text we accept (a link tampered with) names no checkout either.
    if (code !== "NOT_FOUND" && code !== "INVALID_INPUT") throw error;
    return data(
      { state: "not_found" as State, balance: null, credits: null, price: null, paymentId: null },
      { status: 404 },
    );
  }
});

export default function CheckoutSuccess() {
  const result = useLoaderData<typeof loader>();
  const revalidator = useRevalidator();
  const [polls, setPolls] = useState(0);
  const processing = result.state === "processing";
  const gaveUp = polls >= MAX_POLLS;

  useEffect(() => {
    if (!processing || gaveUp || revalidator.state !== "idle") return;
    const timer = setTimeout(() => {
      setPolls((n) => n + 1);
      revalidator.revalidate();
    }, POLL_INTERVAL_MS);
    return () => clearTimeout(timer);
  }, [processing, gaveUp, revalidator]);

  return (
    <div className="mx-auto max-w-lg">
      <Card className="px-6 py-10 text-center">
        {result.state === "credited" ? (
          <>
            <Icon tone="success" />
            <h1 className="mt-4 text-2xl font-bold text-slate-900">Payment received</h1>
            <p className="mt-2 text-slate-600" role="status">
              {formatCredits(result.credits ?? 0)} ({result.price}) added to your account.
            </p>
            <p className="mt-6 text-sm text-slate-500">New balance</p>
            <p className="text-4xl font-bold text-indigo-700" data-testid="balance">
              {formatCredits(result.balance ?? 0)}
            </p>
          </>
        ) : result.state === "processing" ? (
          <>
            {/* Without JavaScript the page reloads itself until the payment is credited. */}
            {!gaveUp ? (
              <noscript>
                <meta httpEquiv="refresh" content={String(POLL_INTERVAL_MS / 1000 + 1)} />
              </noscript>
            ) : null}
            <div className="mx-auto grid size-14 place-items-center rounded-full bg-indigo-50 text-indigo-600">
              <Spinner />
            </div>
            <h1 className="mt-4 text-2xl font-bold text-slate-900">Processing your payment</h1>
            <p className="mt-2 text-slate-600" role="status" aria-live="polite">
              {gaveUp
                ? "This is taking longer than usual. Your credits will be added as soon as the payment clears; you can leave this page."
                : `Waiting for the payment to clear. ${result.credits === null ? "Your credits" : formatCredits(result.credits)} will be added in a moment.`}
            </p>
          </>
        ) : result.state === "review" ? (
          <>
            <Icon tone="warning" />
            <h1 className="mt-4 text-2xl font-bold text-slate-900">We're checking this payment</h1>
            <p className="mt-2 text-slate-600">
              Something about this payment needs a person to look at it. Your credits will be added once it is
              confirmed.
            </p>
          </>
        ) : result.state === "failed" ? (
          <>
            <Icon tone="error" />
            <h1 className="mt-4 text-2xl font-bold text-slate-900">The payment didn't go through</h1>
            <p className="mt-2 text-slate-600">No credits were added and you were not charged. You can try again.</p>
          </>
        ) : (
          <>
            <Icon tone="error" />
            <h1 className="mt-4 text-2xl font-bold text-slate-900">We couldn't find this checkout</h1>
            <p className="mt-2 text-slate-600">
              The link may be incomplete, or the checkout belongs to another account.
            </p>
          </>
        )}
        <div className="mt-8 flex flex-wrap justify-center gap-3">
          <Link to="/credits" className={buttonClass("primary")}>
            {result.state === "failed" ? "Choose a pack" : "Back to your credits"}
          </Link>
          <Link to="/credits/history" className={buttonClass("secondary")}>
            View history
          </Link>
          {result.state === "credited" && result.paymentId ? (
            <Link to={`/receipts/${result.paymentId}`} className={buttonClass("secondary")}>
              View receipt
            </Link>
          ) : null}
        </div>
      </Card>
    </div>
  );
}

function Icon({ tone }: { tone: "success" | "warning" | "error" }) {
  const styles = {
    success: { ring: "bg-emerald-50 text-emerald-600", path: "M5 12.5l4.5 4.5L19 7.5" },
    warning: { ring: "bg-amber-50 text-amber-600", path: "M12 7v6m0 4h.01" },
    error: { ring: "bg-rose-50 text-rose-600", path: "M7 7l10 10M17 7L7 17" },
  }[tone];
  return (
    <div className={`mx-auto grid size-14 place-items-center rounded-full ${styles.ring}`}>
      <svg className="size-7" viewBox="0 0 24 24" fill="none" aria-hidden="true">
        <path d={styles.path} stroke="currentColor" strokeWidth="2.5" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
    </div>
  );
}
