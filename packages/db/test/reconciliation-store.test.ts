import { randomUUID } from "node:crypto";
import type { NewFinding, ReconciliationStore } from "@credits/core";
import { emptyStats } from "@credits/core";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createDatabase } from "../src/client.ts";
import { createPaymentStore } from "../src/payment-store.ts";
import { createReconciliationStore } from "../src/reconciliation-store.ts";
import { creditPackages, reconciliationRuns } from "../src/schema.ts";
import { seedDefaults } from "../src/seed.ts";
import { createUser } from "./fixtures.ts";
import { testDb } from "./setup.ts";

const { db } = testDb;
const store = createReconciliationStore(db);
const paymentStore = createPaymentStore(db);
const window = { windowStart: new Date("2026-11-01T00:00:00Z"), windowEnd: new Date("2026-11-04T00:00:00Z") };

const insertRun = (target: ReconciliationStore, scheduledFor: string | null, startedAt = new Date()) =>
  target.insertRun({ trigger: scheduledFor ? "schedule" : "manual", scheduledFor, startedAt, ...window });

async function packageId(): Promise<string> {
  await seedDefaults(db);
  const [pack] = await db.select({ id: creditPackages.id }).from(creditPackages).limit(1);
  if (!pack) throw new Error("no package");
  return pack.id;
}

async function payment(options: { creditedAt?: Date | null; provider?: string; intent?: string } = {}) {
  const created = await paymentStore.insertPayment({
    userId: await createUser(db),
    packageId: await packageId(),
    credits: 100,
    amountMinor: 500,
    currency: "usd",
    creditExpiryDays: null,
    provider: options.provider ?? "stripe",
    idempotencyKey: null,
  });
  if (!created) throw new Error("payment not inserted");
  return paymentStore.updatePayment(created.id, {
    creditedAt: options.creditedAt ?? null,
    providerPaymentIntentId: options.intent ?? null,
  });
}

const finding = (kind: NewFinding["kind"], n: number): NewFinding => ({
  kind,
  paymentId: null,
  userId: null,
  providerRef: `ref_${n}`,
  detail: { n },
  healed: kind === "missing_credit",
});

describe("reconciliation store: claiming a scheduled day", () => {
  it("claims a day once; a second claim for the same day finds it taken", async () => {
    const first = await insertRun(store, "2026-11-02");
    expect(first).toMatchObject({ trigger: "schedule", scheduledFor: "2026-11-02", status: "running", stats: null });
    expect(await insertRun(store, "2026-11-02")).toBeNull();
    expect(await insertRun(store, "2026-11-03")).not.toBeNull();
  });

  it("never makes manual runs conflict with each other", async () => {
    const runs = await Promise.all([insertRun(store, null), insertRun(store, null), insertRun(store, null)]);
    expect(runs.every((run) => run !== null)).toBe(true);
    expect(new Set(runs.map((run) => run?.id)).size).toBe(3);
  });

  it("lets exactly one of many simultaneous claims win (separate pools on PostgreSQL)", async () => {
    // On PostgreSQL a second handle is a second pool, as a second server instance would have.
    const other = testDb.url ? createDatabase({ url: testDb.url, poolMax: 10 }) : null;
    try {
      const stores = [store, other ? createReconciliationStore(other.db) : store];
      const day = "2026-12-01";
      const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => insertRun(stores[i % 2] ?? store, day)));
      expect(claims.filter((claim) => claim !== null)).toHaveLength(1);
      const rows = await db.select().from(reconciliationRuns).where(eq(reconciliationRuns.scheduledFor, day));
      expect(rows).toHaveLength(1);
    } finally {
      await other?.close();
    }
  });
});

describe("reconciliation store: runs and findings", () => {
  it("finishes a run with its stats, and remembers the last successful one", async () => {
    const older = await insertRun(store, null, new Date("2026-11-05T01:00:00Z"));
    const newer = await insertRun(store, null, new Date("2026-11-05T02:00:00Z"));
    const failed = await insertRun(store, null, new Date("2026-11-05T03:00:00Z"));
    if (!older || !newer || !failed) throw new Error("runs not inserted");
    const stats = { ...emptyStats(), sessionsSeen: 7 };
    await store.finishRun(older.id, { status: "succeeded", stats, finishedAt: new Date("2026-11-05T01:05:00Z") });
    const finished = await store.finishRun(newer.id, {
      status: "succeeded",
      stats,
      finishedAt: new Date("2026-11-05T02:05:00Z"),
    });
    await store.finishRun(failed.id, {
      status: "failed",
      stats: { ...stats, error: "boom" },
      finishedAt: new Date("2026-11-05T03:05:00Z"),
    });
    expect(finished).toMatchObject({ status: "succeeded", stats: { sessionsSeen: 7 } });
    expect((await store.lastSuccessfulRun())?.id).toBe(newer.id);
    expect((await store.findRun(failed.id))?.stats?.error).toBe("boom");
    expect(await store.findRun("not-a-uuid")).toBeNull();
    expect(await store.findRun(randomUUID())).toBeNull();
  });

  it("pages runs newest first, and findings oldest first with a kind filter, each exactly once", async () => {
    const run = await insertRun(store, null);
    if (!run) throw new Error("run not inserted");
    const kinds = ["missing_credit", "amount_mismatch", "unexpected_credit"] as const;
    // Three batches, as a run writes them.
    for (let batch = 0; batch < 3; batch++) {
      await store.addFindings(
        run.id,
        Array.from({ length: 10 }, (_, i) => finding(kinds[(batch * 10 + i) % 3] ?? "missing_credit", batch * 10 + i)),
      );
    }
    await store.addFindings(run.id, []);

    const seen: string[] = [];
    let after: { at: Date; id: string } | undefined;
    for (;;) {
      const page = await store.listFindings(run.id, { limit: 7, ...(after ? { after } : {}) });
      seen.push(...page.map((f) => f.providerRef ?? ""));
      const last = page.at(-1);
      if (page.length < 7 || !last) break;
      after = { at: last.createdAt, id: last.id };
    }
    expect(seen).toHaveLength(30);
    expect(new Set(seen).size).toBe(30);
    const mismatches = await store.listFindings(run.id, { limit: 100, kind: "amount_mismatch" });
    expect(mismatches).toHaveLength(10);
    expect(mismatches.every((f) => f.kind === "amount_mismatch" && f.runId === run.id && !f.healed)).toBe(true);
    expect(await store.listFindings("nope", { limit: 10 })).toEqual([]);

    const all = await store.listRuns({ limit: 1_000 });
    const ids: string[] = [];
    let before: { at: Date; id: string } | undefined;
    for (;;) {
      const page = await store.listRuns({ limit: 3, ...(before ? { before } : {}) });
      ids.push(...page.map((r) => r.id));
      const last = page.at(-1);
      if (page.length < 3 || !last) break;
      before = { at: last.startedAt, id: last.id };
    }
    expect(ids).toEqual(all.map((r) => r.id));
    const starts = all.map((r) => r.startedAt.getTime());
    expect(starts).toEqual([...starts].sort((a, b) => b - a));
  });
});

describe("reconciliation store: our payments", () => {
  it("finds payments by id (ignoring ids that cannot be ours) and by provider refs", async () => {
    const intent = `pi_${randomUUID()}`;
    const one = await payment({ intent });
    const two = await payment();
    await paymentStore.updatePayment(two.id, { providerChargeId: `ch_${two.id}` });
    const found = await store.findPaymentsByIds([one.id, two.id, "pay-9", randomUUID(), ""]);
    expect(found.map((p) => p.id).sort()).toEqual([one.id, two.id].sort());
    expect(await store.findPaymentsByIds(["not-ours"])).toEqual([]);
    const byRef = await store.findPaymentsByProviderRefs({
      paymentIntentIds: [intent, "pi_unknown"],
      chargeIds: [`ch_${two.id}`],
    });
    expect(byRef.map((p) => p.id).sort()).toEqual([one.id, two.id].sort());
    expect(await store.findPaymentsByProviderRefs({ paymentIntentIds: [], chargeIds: [] })).toEqual([]);
  });

  it("lists credited payments of one provider in the window, credited before the cutoff, page by page", async () => {
    const provider = `p-${randomUUID().slice(0, 8)}`;
    const start = new Date();
    const credited = [];
    for (let i = 0; i < 5; i++) credited.push(await payment({ provider, creditedAt: new Date() }));
    await payment({ provider }); // not credited
    await payment({ provider: "local", creditedAt: new Date() }); // another provider
    const cutoff = new Date(Date.now() + 60_000);
    const late = await payment({ provider, creditedAt: new Date(Date.now() + 120_000) });

    const listed: string[] = [];
    let after: { at: Date; id: string } | undefined;
    for (;;) {
      const page = await store.listCreditedPayments({
        provider,
        createdFrom: new Date(start.getTime() - 1_000),
        createdTo: cutoff,
        creditedBefore: cutoff,
        limit: 2,
        ...(after ? { after } : {}),
      });
      listed.push(...page.map((p) => p.id));
      const last = page.at(-1);
      if (page.length < 2 || !last) break;
      after = { at: last.createdAt, id: last.id };
    }
    expect(listed).toHaveLength(5);
    expect([...listed].sort()).toEqual(credited.map((p) => p.id).sort());
    expect(listed).not.toContain(late.id);
  });
});
