// A pack and its prices read in one statement (catalog-store.ts; review 12). Read in two under READ
// COMMITTED, an edit committed between them was seen half: the pack's old credits with its new
// prices. One admin edits a pack between two shapes at the cheapest rate on sale (1,000,000 credits
// for 35,000.00 USD and 100 credits for 3.50 USD: 3.5 cents a credit both, an edit one admin may
// make alone) while a friend checks out: the payment copied 1,000,000 credits at 3.50 USD. The
// floor check of the two-person rule on prices (catalog-pricing.ts) read packs the same way.
// The window is held open by a table lock so the interleaving is certain. PostgreSQL only (PGlite
// has one connection, so no edit can commit between two statements of another request).
import { createCatalogService } from "@credits/core";
import { createCatalogStore, createDatabase, type Database, rowsOf } from "@credits/db";
import { payments } from "@credits/db/schema";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { testDb } from "../harness.ts";
import {
  balanceOf,
  call,
  db,
  deliver,
  type Reply,
  sessionEvent,
  sessionIdOf,
  signUp,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";
import { createAdmin } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);

const BIG = { credits: 1_000_000, prices: [{ currency: "usd", unitAmount: 3_500_000 }] };
const SMALL = { credits: 100, prices: [{ currency: "usd", unitAmount: 350 }] };

// Whether `credits` for `amount` cents sells below the seeded floor (2,000 credits for 70.00 USD).
const belowFloor = (credits: number, amount: number) => BigInt(amount) * 2_000n < 7_000n * BigInt(credits);

// Runs `during` while another connection holds credit_package_prices locked, once a statement of
// the server reading prices waits on that lock; then, in the locking transaction, `edit` (the real
// catalogue service, on that transaction) commits with the lock's release. The waiting statement
// then reads the edit's prices, after its pack rows were read before the edit.
async function withPricesHeldDuring(
  edit: (tx: Database) => Promise<unknown>,
  during: () => Promise<Reply>,
): Promise<Reply> {
  const other = createDatabase({ url: String(testDb.url), poolMax: 1 });
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let pid = 0;
  const holder = other.db.transaction(async (tx) => {
    await tx.execute(sql`LOCK TABLE credit_package_prices IN ACCESS EXCLUSIVE MODE`);
    pid = Number(rowsOf<{ pid: number }>(await tx.execute(sql`SELECT pg_backend_pid() AS pid`))[0]?.pid);
    await released;
    await edit(tx as unknown as Database);
  });
  try {
    await expect.poll(() => pid, { timeout: 10_000 }).toBeGreaterThan(0);
    const reply = during();
    await expect
      .poll(
        async () =>
          rowsOf<{ waiting: number }>(
            await db.execute(
              sql`SELECT count(*)::int AS waiting FROM pg_stat_activity
                   WHERE ${pid}::int = ANY(pg_blocking_pids(pid)) AND query ILIKE '%credit_package_prices%'`,
            ),
          )[0]?.waiting,
        { timeout: 10_000 },
      )
      .toBeGreaterThan(0);
    release();
    await holder;
    return await reply;
  } finally {
    release();
    await holder.catch(() => {});
    await other.close();
  }
}

const editIn = (tx: Database, actorId: string, id: string, patch: Record<string, unknown>) =>
  createCatalogService({ store: createCatalogStore(tx) }).update({ actorId }, id, patch);

describe.skipIf(!testDb.url)("a pack read while an edit commits (PostgreSQL)", () => {
  it("a checkout copies one version of the pack, never its old credits at its new price", async () => {
    const admin = await createAdmin(server);
    const rival = await call(server.url, "POST", "/api/v1/admin/packages", {
      cookie: admin.cookie,
      body: { name: "Bulk", ...BIG },
    });
    expect(rival.body).toMatchObject({ awaitingApproval: false });
    const buyer = await signUp(server.url, "friend");

    const checkout = await withPricesHeldDuring(
      (tx) => editIn(tx, admin.id, String(rival.body.id), SMALL),
      () => call(server.url, "POST", "/api/v1/checkout", { cookie: buyer.cookie, body: { packageId: rival.body.id } }),
    );
    expect(checkout.status, JSON.stringify(checkout.body)).toBe(201);
    const [payment] = await db
      .select()
      .from(payments)
      .where(eq(payments.id, String(checkout.body.paymentId)));
    if (!payment) throw new Error("no payment");
    // Stripe completes the session at the amount the server asked for: the webhook credits it.
    const sessionId = sessionIdOf(String(checkout.body.checkoutUrl));
    expect((await deliver(server.url, sessionEvent(mock, sessionId, "checkout.session.completed"))).status).toBe(200);
    const credited = await balanceOf(buyer.id);

    // Either version of the pack is fine (1,000,000 for 35,000.00 USD, or 100 for 3.50 USD); a
    // mixture of the two is credits sold at a thousandth of the cheapest price on sale.
    const seen = { credits: payment.credits, amountMinor: payment.amountMinor, credited };
    expect(belowFloor(payment.credits, payment.amountMinor), JSON.stringify(seen)).toBe(false);
    expect([`${BIG.credits}/3500000`, "100/350"]).toContain(`${payment.credits}/${payment.amountMinor}`);
  });
});
