import { type MetaFunction, redirect } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { Alert, buttonClass, Card } from "../components/ui.tsx";
import { formatCredits, formatMoney } from "../lib/format.ts";
import { route } from "../lib/route.server.ts";

export const meta: MetaFunction = () => [
  { title: "Credits · Prepaid credits, spent as you go" },
  { name: "description", content: "Buy a credit pack once, spend credits as you use the product." },
];

export const loader = route(async ({ request, api }) => {
  if (await api.session()) throw redirect("/credits");
  const { packages } = await api.caller.packages.list();
  // After erasing one's own account (the session cookie is already cleared).
  const deleted = new URL(request.url).searchParams.get("deleted") === "1";
  return { packages, deleted };
});

export default function Landing() {
  const { packages, deleted } = useLoaderData<typeof loader>();
  return (
    <div className="space-y-12">
      {deleted ? (
        <Alert tone="success" title="Your account has been deleted">
          Your personal data was erased and you are signed out. Thank you for using Credits.
        </Alert>
      ) : null}
      <section className="pt-6 text-center sm:pt-12">
        <p className="text-sm font-semibold tracking-wide text-indigo-600 uppercase">Prepaid credits</p>
        <h1 className="mx-auto mt-3 max-w-2xl text-4xl font-bold tracking-tight text-slate-900 sm:text-5xl">
          Pay once, spend as you go.
        </h1>
        <p className="mx-auto mt-4 max-w-xl text-lg text-slate-600">
          Buy a pack of credits, use them across the product, and see every credit in and out of your account.
        </p>
        <div className="mt-8 flex flex-wrap justify-center gap-3">
          <Link to="/signup" className={buttonClass("primary", "px-6 py-3 text-base")}>
            Create an account
          </Link>
          <Link to="/login" className={buttonClass("secondary", "px-6 py-3 text-base")}>
            Log in
          </Link>
        </div>
      </section>
      {packages.length > 0 ? (
        <section aria-labelledby="packs-heading">
          <h2 id="packs-heading" className="text-center text-xl font-semibold text-slate-900">
            Credit packs
          </h2>
          <ul className="mt-6 grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
            {packages.map((pack) => (
              <li key={pack.id}>
                <Card className="h-full text-center">
                  <p className="font-semibold text-slate-900">{pack.name}</p>
                  <p className="mt-2 text-3xl font-bold text-indigo-700">{formatCredits(pack.credits)}</p>
                  <p className="mt-1 text-slate-600">{formatMoney(pack.priceMinor, pack.currency)}</p>
                </Card>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </div>
  );
}
