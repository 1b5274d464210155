// 4. Stripe's API answering 500, then hanging (server with a short STRIPE_TIMEOUT_MS): checkout
// must fail cleanly (503 PROVIDER_UNAVAILABLE) and leave no payment created/pending.
import { serveStripeApiMock } from "@credits/stripe/testing";
import {
  Checks,
  dropDatabase,
  freshDatabase,
  http,
  packageIds,
  pick,
  prepareDatabase,
  type ServerProcess,
  serverProcess,
  signUp,
  sqlClient,
} from "./lib.ts";

export async function stripeDown(quick: boolean): Promise<Checks> {
  const checks = new Checks("Stripe unavailable");
  const perMode = quick ? 6 : 30;
  const timeoutMs = 300;
  const stripe = await serveStripeApiMock();
  const db = await freshDatabase("stripe");
  const sql = sqlClient(db.url);
  let server: ServerProcess | null = null;
  try {
    await prepareDatabase(db.url);
    server = await serverProcess(db.url, stripe, { STRIPE_TIMEOUT_MS: String(timeoutMs) });
    const base = server.url;
    const packs = await packageIds(base);
    const users = await Promise.all(Array.from({ length: 4 }, () => signUp(base)));
    console.log(
      `  injected: fake Stripe answering 500, then hanging (STRIPE_TIMEOUT_MS=${timeoutMs}); ${perMode} checkouts each, 4 users`,
    );
    for (const mode of ["500", "hang"] as const) {
      stripe.mock.failWith(mode);
      const before = stripe.mock.requests.length;
      const t0 = Date.now();
      const replies = await Promise.all(
        Array.from({ length: perMode }, (_, i) =>
          http(base, "POST", "/api/v1/checkout", {
            cookie: users[i % users.length]?.cookie ?? "",
            body: { packageId: pick(packs) },
            timeoutMs: 30_000,
          }),
        ),
      );
      const elapsed = Date.now() - t0;
      const statuses = new Map<string, number>();
      for (const r of replies) {
        const k = `${r.status} ${r.body?.error?.code ?? ""}`.trim();
        statuses.set(k, (statuses.get(k) ?? 0) + 1);
      }
      console.log(
        `  found (${mode}): ${[...statuses].map(([k, n]) => `${k}×${n}`).join(", ")} in ${elapsed} ms; ${stripe.mock.requests.length - before} Stripe requests`,
      );
      checks.check(
        replies.every((r) => r.status === 503 && r.body?.error?.code === "PROVIDER_UNAVAILABLE"),
        `Stripe ${mode}: checkout answers 503 PROVIDER_UNAVAILABLE`,
      );
    }
    stripe.mock.failWith(null);
    const after = await http(base, "POST", "/api/v1/checkout", {
      cookie: users[0]?.cookie ?? "",
      body: { packageId: pick(packs) },
    });
    const recovered = String(after.body?.paymentId ?? "00000000-0000-0000-0000-000000000000");
    const rows = await sql<
      { status: string; n: number }[]
    >`SELECT status::text, count(*)::int AS n FROM payments WHERE id <> ${recovered}::uuid GROUP BY 1 ORDER BY 1`;
    console.log(
      `  payments by status (besides the checkout after recovery): ${rows.map((r) => `${r.status}=${r.n}`).join(", ")}; checkout once Stripe is back: ${after.status}`,
    );
    const orphans = rows.filter((r) => r.status === "created" || r.status === "pending").reduce((n, r) => n + r.n, 0);
    const failed = rows.find((r) => r.status === "failed")?.n ?? 0;
    // The one successful checkout after recovery leaves its own payment pending (awaiting the customer).
    checks.check(
      orphans === 0 && after.status === 201,
      "no orphan payment left created/pending ; checkout works again once Stripe is back",
      `${orphans}`,
    );
    checks.check(failed === perMode * 2, "every failed checkout's payment is `failed`", `${failed} of ${perMode * 2}`);
  } finally {
    await server?.stop();
    await sql.end({ timeout: 2 });
    await dropDatabase(db.name);
    await stripe.close();
  }
  return checks;
}
