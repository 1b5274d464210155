import type { MetaFunction } from "@remix-run/node";
import { Link } from "@remix-run/react";
import { buttonClass, Card } from "../components/ui.tsx";

export const meta: MetaFunction = () => [{ title: "Checkout canceled · Credits" }];

// Where checkout sends someone who backed out. The payment closes as canceled on its own (the
// provider reports the session expired); nothing to do here but say so.
export default function CheckoutCanceled() {
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
        <h1 className="mt-4 text-2xl font-bold text-slate-900">Checkout canceled</h1>
        <p className="mt-2 text-slate-600">You were not charged and your balance is unchanged.</p>
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
