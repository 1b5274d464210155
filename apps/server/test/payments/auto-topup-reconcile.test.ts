// The daily reconciliation and auto top-ups (msw Stripe, the real SDK): it lists the off-session
// PaymentIntents and credits a succeeded one whose webhook was lost, exactly once, racing the
// webhook and the worker; a top-up credited normally is not reported as unknown to Stripe.
import { reconciliationFindings } from "@credits/db/schema";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  chargedWithAnswerLost as answerLost,
  attemptsOf,
  eventsOf,
  expireLeases,
  saverWithCard,
  spend,
} from "./auto-topup-helpers.ts";
import {
  balanceOf,
  db,
  deliver,
  failOnLoggedError,
  ledgerOf,
  startStripeMock,
  startTestServer,
  stripeEnv,
  stripeEvent,
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer({ ...stripeEnv, AUTO_TOPUP_MAX_PER_DAY: "10" });
failOnLoggedError();
const { reconciliation } = server.services;
const runWorker = () => server.services.autoTopUp.runOnce();
const reconcile = async () => {
  const run = await reconciliation.run({ trigger: "manual" });
  expect(run?.status, JSON.stringify(run?.stats)).toBe("succeeded");
  return run as NonNullable<typeof run>;
};
const findingsOf = (runId: string) =>
  db
    .select({
      kind: reconciliationFindings.kind,
      paymentId: reconciliationFindings.paymentId,
      providerRef: reconciliationFindings.providerRef,
      healed: reconciliationFindings.healed,
    })
    .from(reconciliationFindings)
    .where(eq(reconciliationFindings.runId, runId));

const chargedWithAnswerLost = () => answerLost(server, mock);

describe("reconciliation of auto top-ups", () => {
  it("credits a succeeded off-session PaymentIntent whose webhook was lost, once, and reports it healed", async () => {
    const { saver, charged, paymentId } = await chargedWithAnswerLost();
    const run = await reconcile();
    expect(run.stats?.intentsSeen).toBeGreaterThanOrEqual(1);
    expect(mock.requestsTo("GET", "/v1/payment_intents")).not.toHaveLength(0);
    expect(await ledgerOf(paymentId)).toEqual([{ kind: "purchase", amount: 100, balanceAfter: 140 }]);
    expect(await attemptsOf(saver.id)).toMatchObject([{ status: "succeeded" }]);
    expect(await eventsOf(saver.id, "auto_topup.succeeded")).toHaveLength(1);
    expect(await findingsOf(run.id)).toContainEqual({
      kind: "missing_credit",
      paymentId,
      providerRef: charged.id,
      healed: true,
    });
    // The webhook arriving late, and the next run, change nothing.
    expect((await deliver(server.url, stripeEvent("payment_intent.succeeded", charged))).status).toBe(200);
    const again = await reconcile();
    expect((await findingsOf(again.id)).filter((f) => f.paymentId === paymentId)).toEqual([]);
    expect(await ledgerOf(paymentId)).toHaveLength(1);
    expect(await balanceOf(saver.id)).toBe(140);
  });

  it("reconciliation, the webhook and the worker's re-claim race: credited exactly once", async () => {
    const { saver, charged, paymentId } = await chargedWithAnswerLost();
    await expireLeases(saver.id);
    const event = stripeEvent("payment_intent.succeeded", charged);
    const [run, delivered] = await Promise.all([reconcile(), deliver(server.url, event), runWorker()]);
    expect(delivered.status).toBe(200);
    expect(await ledgerOf(paymentId)).toEqual([{ kind: "purchase", amount: 100, balanceAfter: 140 }]);
    expect(await balanceOf(saver.id)).toBe(140);
    expect(await attemptsOf(saver.id)).toMatchObject([{ status: "succeeded" }]);
    expect(await eventsOf(saver.id, "auto_topup.succeeded")).toHaveLength(1);
    // Whoever won, the run reports nothing wrong with it but the heal it made (if it made it).
    const mine = (await findingsOf(run.id)).filter((f) => f.paymentId === paymentId);
    expect(mine.every((f) => f.kind === "missing_credit" && f.healed)).toBe(true);
  });

  it("a top-up credited normally is not reported as unknown to Stripe (it has no Checkout session)", async () => {
    const saver = await saverWithCard(server, mock);
    await spend(server, saver.id, 60);
    await runWorker();
    const [attempt] = await attemptsOf(saver.id);
    expect(attempt?.status).toBe("succeeded");
    const run = await reconcile();
    expect((await findingsOf(run.id)).filter((f) => f.paymentId === attempt?.paymentId)).toEqual([]);
  });
});
