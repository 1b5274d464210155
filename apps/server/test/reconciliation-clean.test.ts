import { randomUUID } from "node:crypto";
import { systemKey } from "@credits/core";
import { creditTransactions, payments, users } from "@credits/db/schema";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { charge, checkoutSession, startReconciliationServer, testDb } from "./reconciliation-setup.ts";

// A thousand payments that agree with Stripe (some partly refunded, the refunds recorded): a run
// walks every page of both listings and finds nothing. Its own file, so its database holds only
// these payments.

const { db } = testDb;
const { mock, server, checkout, paidAtStripe, ledger } = await startReconciliationServer();
const { reconciliation } = server.services;
const PAYMENTS = 1_000;
const USERS = 100;

// Payments, their purchase rows and (every tenth) a recorded half refund with its clawback, in
// bulk: ledger rows carry a correct balance_after chain per user, and each user's cached balance is
// the sum of their rows, so the ledger invariant holds exactly as if the real code had posted them.
async function seedCleanPayments(): Promise<{ stripeSessions: object[]; stripeCharges: object[] }> {
  const packs = (await server.services.catalog.listActive()).map(({ id, credits, prices: [price] }) => ({
    id,
    credits,
    priceMinor: price?.unitAmount ?? 0,
    currency: price?.currency ?? "",
  }));
  const userIds = (
    await db
      .insert(users)
      .values(Array.from({ length: USERS }, () => ({ email: `clean-${randomUUID()}@example.test` })))
      .returning({ id: users.id })
  ).map((u) => u.id);
  const now = Date.now();
  const creditedAt = new Date(now);
  const balances = new Map<string, number>();
  const paymentRows: (typeof payments.$inferInsert)[] = [];
  const ledgerRows: (typeof creditTransactions.$inferInsert)[] = [];
  const stripeSessions: object[] = [];
  const stripeCharges: object[] = [];
  const post = (userId: string, paymentId: string, amount: number, kind: "purchase" | "refund_clawback") => {
    const balanceAfter = (balances.get(userId) ?? 0) + amount;
    balances.set(userId, balanceAfter);
    const idempotencyKey =
      kind === "purchase" ? systemKey.purchase(paymentId) : `s:refund_clawback:${paymentId}:evt_seed_${paymentId}`;
    ledgerRows.push({ userId, amount, balanceAfter, kind, idempotencyKey, paymentId });
  };
  for (let i = 0; i < PAYMENTS; i++) {
    const pack = packs[i % packs.length];
    const userId = userIds[i % USERS];
    if (!pack || !userId) throw new Error("seed data missing");
    const id = randomUUID();
    const refunded = i % 10 === 0;
    const refundedMinor = refunded ? pack.priceMinor / 2 : 0;
    const creditsRefunded = refunded ? Math.floor(pack.credits / 2) : 0;
    const created = Math.floor(now / 1000) - i;
    paymentRows.push({
      id,
      userId,
      packageId: pack.id,
      credits: pack.credits,
      amountMinor: pack.priceMinor,
      currency: pack.currency,
      status: refunded ? "partially_refunded" : "paid",
      provider: "stripe",
      providerSessionId: `cs_test_clean_${i}`,
      providerPaymentIntentId: `pi_clean_${i}`,
      providerChargeId: refunded ? `ch_clean_${i}` : null,
      amountRefundedMinor: refundedMinor,
      creditsRefunded,
      creditedAt,
    });
    post(userId, id, pack.credits, "purchase");
    if (refunded) post(userId, id, -creditsRefunded, "refund_clawback");
    stripeSessions.push(
      checkoutSession({
        id: `cs_test_clean_${i}`,
        client_reference_id: id,
        metadata: { paymentId: id, userId },
        amount_total: pack.priceMinor,
        currency: pack.currency,
        status: "complete",
        payment_status: "paid",
        payment_intent: `pi_clean_${i}`,
        url: null,
        created,
      }),
    );
    stripeCharges.push(
      charge({
        id: `ch_clean_${i}`,
        payment_intent: `pi_clean_${i}`,
        amount: pack.priceMinor,
        amount_refunded: refundedMinor,
        currency: pack.currency,
        created,
      }),
    );
  }
  await db.transaction(async (tx) => {
    for (let start = 0; start < PAYMENTS; start += 500) {
      await tx.insert(payments).values(paymentRows.slice(start, start + 500));
    }
    for (let start = 0; start < ledgerRows.length; start += 500) {
      await tx.insert(creditTransactions).values(ledgerRows.slice(start, start + 500));
    }
    await tx.execute(sql`
      UPDATE users u SET credits_balance = l.total
        FROM (SELECT user_id, sum(amount) AS total FROM credit_transactions GROUP BY user_id) l
       WHERE l.user_id = u.id`);
    // Each purchase its paid grant, and each row its allocation, as post_ledger writes them (the
    // invariant checks both): a refund takes from its payment's grant.
    await tx.execute(sql`
      INSERT INTO credit_grants (user_id, category, priority, amount, remaining, source, payment_id, entry_id,
                                 entry_seq, created_at)
      SELECT t.user_id, 'paid', 50, t.amount, t.amount + coalesce(r.amount, 0), 'payment', t.payment_id, t.id, t.seq,
             t.created_at
        FROM credit_transactions t
        LEFT JOIN credit_transactions r ON r.payment_id = t.payment_id AND r.kind = 'refund_clawback'
       WHERE t.kind = 'purchase' AND NOT EXISTS (SELECT 1 FROM credit_grants g WHERE g.entry_id = t.id)`);
    await tx.execute(sql`
      INSERT INTO ledger_allocations (entry_id, grant_id, amount)
      SELECT t.id, g.id, t.amount FROM credit_transactions t JOIN credit_grants g ON g.payment_id = t.payment_id
       WHERE t.kind IN ('purchase', 'refund_clawback')
         AND NOT EXISTS (SELECT 1 FROM ledger_allocations a WHERE a.entry_id = t.id)`);
  });
  return { stripeSessions, stripeCharges };
}

describe("reconciliation: a clean set", () => {
  let seeded: Awaited<ReturnType<typeof seedCleanPayments>>;

  it(`finds nothing in ${PAYMENTS} payments that agree with Stripe, over every page`, async () => {
    const seedStarted = performance.now();
    seeded = await seedCleanPayments();
    const seedMs = performance.now() - seedStarted;
    expect((await server.services.credits.checkInvariants()).violations).toEqual([]);
    mock.seedCheckoutSessions(seeded.stripeSessions as Record<string, unknown>[]);
    mock.seedCharges(seeded.stripeCharges as Record<string, unknown>[]);

    const started = performance.now();
    const run = await reconciliation.run({ trigger: "manual" });
    const runMs = performance.now() - started;

    expect(run?.status).toBe("succeeded");
    expect(run?.stats).toMatchObject({
      sessionsSeen: PAYMENTS,
      sessionsForeign: 0,
      chargesSeen: PAYMENTS,
      chargesUnmatched: 0,
      paymentsChecked: PAYMENTS,
      usersChecked: USERS,
      findings: {
        missing_credit: 0,
        unexpected_credit: 0,
        refund_not_clawed_back: 0,
        amount_mismatch: 0,
        ledger_invariant: 0,
      },
      healed: 0,
      healedElsewhere: 0,
    });
    if (!run) throw new Error("no run");
    expect((await reconciliation.getRun(run.id)).findings).toEqual([]);
    // Ten pages of a hundred from each listing, and no session asked about one by one.
    expect(mock.requestsTo("GET", "/v1/checkout/sessions")).toHaveLength(10);
    expect(mock.requestsTo("GET", "/v1/charges")).toHaveLength(10);
    expect(mock.requests.filter((r) => r.path.startsWith("/v1/checkout/sessions/"))).toHaveLength(0);
    console.log(
      `reconciliation (${testDb.driver}): seeded ${PAYMENTS} payments in ${Math.round(seedMs)} ms, clean run in ${Math.round(runMs)} ms`,
    );
  });

  it("finds the one missing credit among them, and heals it once", async () => {
    mock.seedCheckoutSessions(seeded.stripeSessions as Record<string, unknown>[]);
    mock.seedCharges(seeded.stripeCharges as Record<string, unknown>[]);
    const { payment, sessionId } = await checkout();
    paidAtStripe(sessionId, "pi_clean_missing");

    const run = await reconciliation.run({ trigger: "manual" });
    expect(run?.stats).toMatchObject({
      sessionsSeen: PAYMENTS + 1,
      paymentsChecked: PAYMENTS + 1,
      findings: { missing_credit: 1, unexpected_credit: 0, refund_not_clawed_back: 0, amount_mismatch: 0 },
      healed: 1,
    });
    expect(await ledger(payment.id, "purchase")).toHaveLength(1);
    expect((await server.services.credits.checkInvariants()).violations).toEqual([]);
  });
});
