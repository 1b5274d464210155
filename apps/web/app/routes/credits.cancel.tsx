import type { MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { buttonClass, Card } from "../components/ui.tsx";
import { publicErrorOf } from "../lib/errors.server.ts";
import { route } from "../lib/route.server.ts";

export const meta: MetaFunction = () => [{ title: "Checkout canceled · Credits" }];

type State = "canceled" | "paid" | "pending" | "not_checkout";

// Where checkout sends someone who backed out. Their payment is canceled here: the provider's
// session is expired (so it can no longer be paid) and the payment closes as canceled. Canceling
// is idempotent and only touches the signed-in owner's own unpaid checkout, so doing it on the
// page's GET (the provider's redirect) is safe. A session that was paid after all cannot be
// canceled: the page says the payment went through.
export const loader = route(async ({ request, api }) => {
  const paymentId = new URL(request.url).searchParams.get("payment_id");
  const session = await api.session();
  if (!paymentId || !session) return { state: "canceled" as State };
  try {
    const payment = await api.caller.checkout.cancel({ paymentId });
    const state: State = payment.credited ? "paid" : payment.status === "pending" ? "pending" : "canceled";
    return { state };
  } catch (error) {
    // Not this user's payment, a tampered link, or no answer from the provider right now: the
    // session expires on its own, and nothing was charged either way.
    const code = publicErrorOf(error)?.appCode;
    // An auto top-up's payment: not a checkout, nothing was canceled.
    if (code === "INVALID_STATE") return { state: "not_checkout" as State };
    if (["NOT_FOUND", "INVALID_INPUT", "RATE_LIMITED", "PROVIDER_UNAVAILABLE"].includes(code ?? "")) {
      return { state: "canceled" as State };
    }
    throw error;
  }
});

export default function CheckoutCanceled() {
  const { state } = useLoaderData<typeof loader>();
  const copy = {
    canceled: ["Checkout canceled", "You were not charged and your balance is unchanged."],
    paid: ["This payment went through", "The checkout was paid before it could be canceled: the credits are yours."],
    pending: [
      "Your payment is processing",
      "The checkout was completed; the credits are added once the payment clears.",
    ],
    not_checkout: [
      "Nothing to cancel",
      "This payment is an automatic top-up, not a checkout: see it under Auto top-up on your account page.",
    ],
  }[state];
  return (
    <div className="mx-auto max-w-lg">
      <Card className="px-6 py-10 text-center">
        <div className="mx-auto grid size-14 place-items-center rounded-full bg-slate-100 text-slate-500">
          <svg className="size-7" viewBox="0 0 24 24" fill="none" aria-hidden="true">
            <path
              d="M15 6l-6 6 6 6"
              stroke="currentColor"
              strokeWidth="2.5"
              strokeLinecap="round"
              strokeLinejoin="round"
            />
          </svg>
        </div>
        <h1 className="mt-4 text-2xl font-bold text-slate-900">{copy[0]}</h1>
        <p className="mt-2 text-slate-600" role="status">
          {copy[1]}
        </p>
        <div className="mt-8 flex flex-wrap justify-center gap-3">
          <Link to="/credits#packs" className={buttonClass("primary")}>
            Choose a pack
          </Link>
          <Link to="/credits" className={buttonClass("secondary")}>
            Back to your credits
          </Link>
        </div>
      </Card>
    </div>
  );
}
