import { randomUUID } from "node:crypto";
import {
  InvalidInputError,
  NotFoundError,
  ProviderUnavailableError,
  type ReconciliationFinding,
  type ReconciliationRun,
} from "@credits/core";
import {
  creditTransactions,
  paymentTransitions,
  reconciliationFindings,
  reconciliationRuns,
  users,
} from "@credits/db/schema";
import { eq, inArray, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { checkoutSession, randomStripeId, startReconciliationServer, testDb } from "./reconciliation-setup.ts";

// Planted drift between the msw Stripe and our database, found and (where safe) healed by the
// reconciliation the server wired up, through the same fulfil and refund paths as the webhook.

const { db } = testDb;
const {
  mock,
  server,
  checkout,
  paidAtStripe,
  stripeSession,
  deliverPaid,
  chargeAtStripe,
  paymentRow,
  ledger,
  balance,
} = await startReconciliationServer();
const { reconciliation } = server.services;

async function allFindings(runId: string): Promise<ReconciliationFinding[]> {
  const found: ReconciliationFinding[] = [];
  let cursor: string | undefined;
  do {
    const page = await reconciliation.getRun(runId, { limit: 100, ...(cursor ? { cursor } : {}) });
    found.push(...page.findings);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return found;
}

const summary = (findings: ReconciliationFinding[]) =>
  findings.map((f) => ({ kind: f.kind, paymentId: f.paymentId, userId: f.userId, healed: f.healed }));

function succeeded(run: ReconciliationRun | null): ReconciliationRun {
  if (!run) throw new Error("no run");
  expect(run.status).toBe("succeeded");
  return run;
}

describe("reconciliation: planted drift", () => {
  it("detects every kind of drift, heals the missing credit and the missed refund exactly once", async () => {
    // A: paid at Stripe, the webhook never arrived.
    const missing = await checkout();
    paidAtStripe(missing.sessionId, "pi_missing_A");
    chargeAtStripe("pi_missing_A", 500);
    // B: credited here, Stripe's session is still unpaid.
    const unpaid = await checkout();
    await deliverPaid(unpaid.payment.id, unpaid.sessionId, "pi_unpaid_B");
    stripeSession(unpaid.sessionId, { status: "open", payment_status: "unpaid" });
    // C: credited here, Stripe has never heard of the session.
    const unknown = await checkout();
    await deliverPaid(unknown.payment.id, unknown.sessionId, "pi_unknown_C");
    mock.sessions.delete(unknown.sessionId);
    // D: credited, then half refunded at Stripe; the charge.refunded event was lost.
    const refunded = await checkout();
    await deliverPaid(refunded.payment.id, refunded.sessionId, "pi_refund_D");
    paidAtStripe(refunded.sessionId, "pi_refund_D");
    const refundCharge = chargeAtStripe("pi_refund_D", 500, 250);
    // E: Stripe took 4.00 for a 5.00 pack.
    const mismatch = await checkout();
    paidAtStripe(mismatch.sessionId, "pi_mismatch_E", { amount_total: 400 });
    // F: a cached balance that no longer matches its ledger.
    const tampered = await checkout();
    await db.execute(sql`UPDATE users SET credits_balance = credits_balance + 7 WHERE id = ${tampered.userId}`);

    try {
      const progress: string[] = [];
      const run = succeeded(await reconciliation.run({ trigger: "manual", onProgress: (p) => progress.push(p.phase) }));
      expect([...new Set(progress)]).toEqual(["sessions", "charges", "payments", "ledger"]);
      expect(run.stats).toMatchObject({
        sessionsSeen: 4,
        chargesSeen: 2,
        chargesUnmatched: 0,
        findings: {
          missing_credit: 1,
          unexpected_credit: 2,
          refund_not_clawed_back: 1,
          amount_mismatch: 1,
          ledger_invariant: 1,
        },
        healed: 2,
        healedByKind: { missing_credit: 1, refund_not_clawed_back: 1 },
      });
      expect(run.stats?.paymentsChecked).toBe(5);

      const findings = await allFindings(run.id);
      expect(summary(findings)).toEqual(
        expect.arrayContaining([
          { kind: "missing_credit", paymentId: missing.payment.id, userId: missing.userId, healed: true },
          { kind: "unexpected_credit", paymentId: unpaid.payment.id, userId: unpaid.userId, healed: false },
          { kind: "unexpected_credit", paymentId: unknown.payment.id, userId: unknown.userId, healed: false },
          { kind: "refund_not_clawed_back", paymentId: refunded.payment.id, userId: refunded.userId, healed: true },
          { kind: "amount_mismatch", paymentId: mismatch.payment.id, userId: mismatch.userId, healed: false },
          { kind: "ledger_invariant", paymentId: null, userId: tampered.userId, healed: false },
        ]),
      );
      expect(findings).toHaveLength(6);
      const byPayment = new Map(findings.map((f) => [f.paymentId, f]));
      expect(byPayment.get(unknown.payment.id)?.detail.reason).toBe("the provider does not know this payment");
      expect(byPayment.get(unpaid.payment.id)?.detail).toMatchObject({ sessionPaymentStatus: "unpaid" });
      expect(byPayment.get(mismatch.payment.id)?.detail).toMatchObject({
        providerAmountMinor: 400,
        amountMinor: 500,
        paid: true,
      });
      expect(byPayment.get(refunded.payment.id)).toMatchObject({
        providerRef: refundCharge,
        detail: { refundedAtProviderMinor: 250, recordedBeforeMinor: 0, creditsClawedBack: 50 },
      });

      // A: credited once, through the fulfil function, with the run as the transition's source.
      expect(await balance(missing.userId)).toBe(100);
      expect(await ledger(missing.payment.id, "purchase")).toHaveLength(1);
      expect(await paymentRow(missing.payment.id)).toMatchObject({
        status: "paid",
        providerPaymentIntentId: "pi_missing_A",
      });
      const transitions = await db
        .select()
        .from(paymentTransitions)
        .where(eq(paymentTransitions.paymentId, missing.payment.id));
      expect(transitions.map((t) => t.source)).toContain(`reconciliation:${run.id}`);
      // B and C: a person decides; nothing taken back.
      expect(await balance(unpaid.userId)).toBe(100);
      expect(await balance(unknown.userId)).toBe(100);
      // D: half the money back at Stripe, half the credits back here.
      expect(await balance(refunded.userId)).toBe(50);
      expect((await ledger(refunded.payment.id, "refund_clawback")).map((r) => r.amount)).toEqual([-50]);
      expect(await paymentRow(refunded.payment.id)).toMatchObject({
        status: "partially_refunded",
        amountRefundedMinor: 250,
        creditsRefunded: 50,
        providerChargeId: refundCharge,
      });
      // E: flagged through the fulfil function, never credited.
      expect(await balance(mismatch.userId)).toBe(0);
      expect(await ledger(mismatch.payment.id)).toHaveLength(0);
      expect((await paymentRow(mismatch.payment.id)).reviewReason).toMatch(/amount mismatch/);

      // The next run heals nothing again and still reports what a person has to decide.
      const again = succeeded(await reconciliation.run({ trigger: "manual" }));
      expect(again.stats).toMatchObject({
        findings: {
          missing_credit: 0,
          unexpected_credit: 2,
          refund_not_clawed_back: 0,
          amount_mismatch: 1,
          ledger_invariant: 1,
        },
        healed: 0,
      });
      expect(await ledger(missing.payment.id, "purchase")).toHaveLength(1);
      expect(await ledger(refunded.payment.id, "refund_clawback")).toHaveLength(1);
      expect(await balance(missing.userId)).toBe(100);
      expect(await balance(refunded.userId)).toBe(50);
    } finally {
      await db.execute(sql`UPDATE users SET credits_balance = credits_balance - 7 WHERE id = ${tampered.userId}`);
    }
  });

  it("reports a paid session whose payment id is not ours, and leaves sessions without one alone", async () => {
    const created = Math.floor(Date.now() / 1000);
    const strangerId = randomUUID();
    mock.seedCheckoutSessions([
      checkoutSession({
        id: "cs_test_stranger",
        client_reference_id: strangerId,
        status: "complete",
        payment_status: "paid",
        amount_total: 500,
        created,
      }),
      checkoutSession({ id: "cs_test_foreign", status: "complete", payment_status: "paid", created }),
    ]);
    const run = succeeded(await reconciliation.run({ trigger: "manual" }));
    expect(run.stats).toMatchObject({ sessionsSeen: 2, sessionsForeign: 1, healed: 0 });
    const stranger = (await allFindings(run.id)).filter((f) => f.providerRef === "cs_test_stranger");
    expect(stranger).toEqual([
      expect.objectContaining({
        kind: "missing_credit",
        paymentId: null,
        healed: false,
        detail: expect.objectContaining({ claimedPaymentId: strangerId }),
      }),
    ]);
  });
});

describe("reconciliation: concurrency", () => {
  it("heals exactly once when two reconciliations and the webhook race for the same payments", async () => {
    const missing = await Promise.all([checkout(), checkout(), checkout()]);
    missing.forEach(({ sessionId }, i) => {
      paidAtStripe(sessionId, `pi_race_${i}`);
    });
    const refunded = await checkout();
    await deliverPaid(refunded.payment.id, refunded.sessionId, "pi_race_refund");
    paidAtStripe(refunded.sessionId, "pi_race_refund");
    chargeAtStripe("pi_race_refund", 500, 500);
    const first = missing[0];
    if (!first) throw new Error("no payment");

    const [one, two, webhook] = await Promise.all([
      reconciliation.run({ trigger: "manual" }),
      reconciliation.run({ trigger: "schedule", scheduledFor: "2031-01-01" }),
      deliverPaid(first.payment.id, first.sessionId, "pi_race_0"),
    ]);
    succeeded(one);
    succeeded(two);
    expect(webhook).toBe("processed");

    for (const { payment, userId } of missing) {
      expect(await ledger(payment.id, "purchase")).toHaveLength(1);
      expect(await balance(userId)).toBe(100);
    }
    expect((await ledger(refunded.payment.id, "refund_clawback")).map((r) => r.amount)).toEqual([-100]);
    expect(await balance(refunded.userId)).toBe(0);
    expect(await paymentRow(refunded.payment.id)).toMatchObject({ status: "refunded", creditsRefunded: 100 });

    // Each heal is claimed by exactly one of the racers.
    const ids = [...missing.map((m) => m.payment.id), refunded.payment.id];
    const healed = await db.select().from(reconciliationFindings).where(inArray(reconciliationFindings.paymentId, ids));
    const healedMissing = healed.filter((f) => f.kind === "missing_credit" && f.healed);
    const healedRefund = healed.filter((f) => f.kind === "refund_not_clawed_back" && f.healed);
    // The webhook may have credited the first payment before either run got to it.
    expect(healedMissing.length).toBeGreaterThanOrEqual(2);
    expect(healedMissing.length).toBeLessThanOrEqual(3);
    expect(new Set(healedMissing.map((f) => f.paymentId)).size).toBe(healedMissing.length);
    expect(healedRefund).toHaveLength(1);
    expect(healed.filter((f) => !f.healed)).toEqual([]);
    expect((one?.stats?.healed ?? 0) + (two?.stats?.healed ?? 0)).toBe(healedMissing.length + 1);
  });

  it("credits exactly once over many rounds of two simultaneous runs", async () => {
    for (let round = 0; round < 5; round++) {
      const { payment, sessionId, userId } = await checkout();
      paidAtStripe(sessionId, `pi_round_${round}_${randomUUID()}`);
      const runs = await Promise.all([
        reconciliation.run({ trigger: "manual" }),
        reconciliation.run({ trigger: "cli" }),
      ]);
      expect(runs.map((r) => r?.status)).toEqual(["succeeded", "succeeded"]);
      expect(await ledger(payment.id, "purchase")).toHaveLength(1);
      expect(await balance(userId)).toBe(100);
      const healed = await db
        .select()
        .from(reconciliationFindings)
        .where(eq(reconciliationFindings.paymentId, payment.id));
      expect(healed.map((f) => [f.kind, f.healed])).toEqual([["missing_credit", true]]);
      mock.reset();
    }
  });
});

describe("reconciliation: failures, history and limits", () => {
  it("records a run that failed on a provider outage, and keeps the last successful run", async () => {
    const before = await reconciliation.lastSuccessfulRun();
    expect(before).not.toBeNull();
    mock.failWith("500");
    await expect(reconciliation.run({ trigger: "manual" })).rejects.toBeInstanceOf(ProviderUnavailableError);
    const { runs } = await reconciliation.listRuns({ limit: 1 });
    expect(runs[0]).toMatchObject({ status: "failed", stats: { error: expect.stringMatching(/stripe/) } });
    expect(runs[0]?.finishedAt).toBeInstanceOf(Date);
    expect((await reconciliation.lastSuccessfulRun())?.id).toBe(before?.id);
  });

  it("pages runs and a run's findings, and bounds every page", async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await reconciliation.listRuns({ limit: 2, ...(cursor ? { cursor } : {}) });
      expect(page.runs.length).toBeLessThanOrEqual(2);
      seen.push(...page.runs.map((r) => r.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    const all = (await reconciliation.listRuns({ limit: 100 })).runs.map((r) => r.id);
    expect(seen).toEqual(all);
    expect(new Set(seen).size).toBe(seen.length);

    const withFindings = (await reconciliation.listRuns({ limit: 100 })).runs.find(
      (r) => (r.stats?.findings.unexpected_credit ?? 0) >= 2,
    );
    if (!withFindings) throw new Error("no run with findings");
    const first = await reconciliation.getRun(withFindings.id, { limit: 1, kind: "unexpected_credit" });
    expect(first.findings).toHaveLength(1);
    expect(first.nextCursor).not.toBeNull();
    const second = await reconciliation.getRun(withFindings.id, {
      limit: 1,
      kind: "unexpected_credit",
      cursor: first.nextCursor ?? "",
    });
    expect(second.findings[0]?.id).not.toBe(first.findings[0]?.id);

    await expect(reconciliation.getRun(withFindings.id, { limit: 101 })).rejects.toBeInstanceOf(InvalidInputError);
    await expect(reconciliation.getRun(withFindings.id, { cursor: "forged" })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    await expect(reconciliation.getRun(randomUUID())).rejects.toBeInstanceOf(NotFoundError);
    await expect(reconciliation.listRuns({ limit: 0 })).rejects.toBeInstanceOf(InvalidInputError);
  });

  it("refuses a window that is empty, inverted or longer than a month", async () => {
    const now = new Date();
    await expect(reconciliation.run({ trigger: "cli", since: now, until: now })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    await expect(
      reconciliation.run({ trigger: "cli", since: new Date(now.getTime() - 40 * 86_400_000) }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    await expect(reconciliation.run({ trigger: "schedule", scheduledFor: "tomorrow" })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
  });

  it("looks only at the window it is given", async () => {
    const { sessionId } = await checkout();
    paidAtStripe(sessionId, randomStripeId("pi"));
    const lastWeek = new Date(Date.now() - 7 * 86_400_000);
    const run = succeeded(
      await reconciliation.run({ trigger: "cli", since: lastWeek, until: new Date(lastWeek.getTime() + 86_400_000) }),
    );
    expect(run.stats).toMatchObject({ sessionsSeen: 0, paymentsChecked: 0, healed: 0 });
    expect(run.windowStart).toEqual(lastWeek);
    const [page] = mock.requestsTo("GET", "/v1/checkout/sessions");
    expect(page?.query["created[gte]"]).toBe(String(Math.floor(lastWeek.getTime() / 1000)));
  });

  it("marks a run left running by a stopped process as failed, once it is an hour old", async () => {
    const window = { windowStart: new Date(Date.now() - 86_400_000), windowEnd: new Date() };
    const [abandoned, recent] = await db
      .insert(reconciliationRuns)
      .values([
        { trigger: "manual", ...window, status: "running", startedAt: new Date(Date.now() - 61 * 60_000) },
        { trigger: "manual", ...window, status: "running", startedAt: new Date(Date.now() - 5 * 60_000) },
      ])
      .returning();
    succeeded(await reconciliation.run({ trigger: "cli" }));
    const after = async (id: string | undefined) =>
      (
        await db
          .select()
          .from(reconciliationRuns)
          .where(eq(reconciliationRuns.id, id ?? ""))
      )[0];
    expect(await after(abandoned?.id)).toMatchObject({ status: "failed", finishedAt: expect.any(Date) });
    // Five minutes may still be a run in progress on another instance.
    expect(await after(recent?.id)).toMatchObject({ status: "running", finishedAt: null });
  });

  it("leaves the ledger invariant intact after all of the above", async () => {
    const { violations } = await server.services.credits.checkInvariants();
    expect(violations).toEqual([]);
    const [count] = await db.select({ n: sql<number>`count(*)::int` }).from(creditTransactions);
    expect(count?.n).toBeGreaterThan(0);
    expect((await db.select().from(users)).length).toBeGreaterThan(0);
  });
});
