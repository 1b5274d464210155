import { randomUUID } from "node:crypto";
import type { ReconciliationRun } from "@credits/core";
import { createLedgerStore, rowsOf } from "@credits/db";
import { users } from "@credits/db/schema";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { startReconciliationServer, testDb } from "./reconciliation-setup.ts";

// The ledger step of reconciliation (ADR 012): the daily run checks only the users with postings
// since the previous run's checkpoint (and those it found in violation), a full pass checks every
// user. Its own file: the runs' checkpoints and the users checked are this file's alone.

const { db } = testDb;
const { server } = await startReconciliationServer();
const { reconciliation } = server.services;

async function newUser(credits: number): Promise<string> {
  const [user] = await db
    .insert(users)
    .values({ email: `pass-${randomUUID()}@example.test` })
    .returning({ id: users.id });
  if (!user) throw new Error("user not created");
  await post(user.id, credits, "grant");
  return user.id;
}

const post = (userId: string, amount: number, kind: "grant" | "spend") =>
  db.execute(sql`
    SELECT * FROM post_ledger(jsonb_build_array(jsonb_build_object(
      'ord', 0, 'user_id', ${userId}::uuid, 'amount', ${amount}::bigint, 'kind', ${kind}::text,
      'idempotency_key', ${randomUUID()}::text)))`);

const tamper = (userId: string, by: number) =>
  db.execute(sql`UPDATE users SET credits_balance = credits_balance + ${by} WHERE id = ${userId}::uuid`);

async function run(fullLedger = false) {
  const result = await reconciliation.run({ trigger: "manual", ...(fullLedger ? { fullLedger } : {}) });
  if (result?.status !== "succeeded") throw new Error("the run did not succeed");
  const { findings } = await reconciliation.getRun(result.id, { kind: "ledger_invariant", limit: 100 });
  return { run: result as ReconciliationRun, flagged: findings.map((f) => f.userId) };
}

describe("reconciliation: the ledger pass", () => {
  it("checks the users touched since the checkpoint daily, and everyone on a full pass", async () => {
    const touched = await newUser(100);
    const untouched = await newUser(100);
    const bystanders = await Promise.all(Array.from({ length: 5 }, () => newUser(10)));
    const first = await run();
    expect(first.run.stats).toMatchObject({ ledgerPass: "full", usersChecked: 2 + bystanders.length });
    expect(first.flagged).toEqual([]);

    // After the checkpoint: one user posts and has a planted inconsistency; another, who posted
    // nothing since, has one too.
    await post(touched, -5, "spend");
    await tamper(touched, 7);
    await tamper(untouched, 3);
    const daily = await run();
    expect(daily.run.stats).toMatchObject({ ledgerPass: "incremental", usersChecked: 1 });
    expect(daily.flagged).toEqual([touched]);
    expect(daily.run.stats?.ledgerCheckpoint).toBeGreaterThan(first.run.stats?.ledgerCheckpoint ?? 0);

    // The next daily run reports the standing violation again, though its user posted nothing.
    const nextDay = await run();
    expect(nextDay.run.stats).toMatchObject({ ledgerPass: "incremental", usersChecked: 1 });
    expect(nextDay.flagged).toEqual([touched]);

    const full = await run(true);
    expect(full.run.stats).toMatchObject({ ledgerPass: "full", usersChecked: 2 + bystanders.length });
    expect(full.flagged.sort()).toEqual([touched, untouched].sort());

    await tamper(touched, -7);
    await tamper(untouched, -3);
    expect((await run(true)).flagged).toEqual([]);
  });
});

// Two spends of 5 written as the posting function would, allocations and grant included, but
// with the first row's balance_after 2 too high and the second's back in line: the rows sum to
// the balance, so only the chain (each row continues the one before it) tells.
async function plantBrokenChain(userId: string): Promise<number> {
  const seqs: number[] = [];
  for (const after of [97, 90]) {
    const [row] = rowsOf<{ seq: string }>(
      await db.execute(sql`
      WITH entry AS (
        INSERT INTO credit_transactions (user_id, amount, balance_after, kind, idempotency_key)
        VALUES (${userId}::uuid, -5, ${after}, 'spend', ${randomUUID()}) RETURNING id, seq)
      INSERT INTO ledger_allocations (entry_id, grant_id, amount)
      SELECT entry.id, cg.id, -5 FROM entry, credit_grants cg WHERE cg.user_id = ${userId}::uuid
      RETURNING (SELECT seq FROM entry)::bigint AS seq`),
    );
    seqs.push(Number(row?.seq));
  }
  await db.execute(sql`UPDATE credit_grants SET remaining = remaining - 10 WHERE user_id = ${userId}::uuid`);
  await tamper(userId, -10);
  return seqs[0] as number;
}

async function ledgerFindings(runId: string) {
  const { findings } = await reconciliation.getRun(runId, { kind: "ledger_invariant", limit: 100 });
  return new Map(findings.map((f) => [f.userId, f.detail]));
}

describe("reconciliation: the daily pass checks the rows since the checkpoint", () => {
  it("finds a row that breaks the chain (the sums still agree) and a drifted balance", async () => {
    const broken = await newUser(100);
    const drifted = await newUser(50);
    expect((await run()).flagged).toEqual([]);

    const brokenAt = await plantBrokenChain(broken);
    await post(drifted, -1, "spend");
    await tamper(drifted, 4);
    const daily = await run();
    expect(daily.run.stats).toMatchObject({ ledgerPass: "incremental", usersChecked: 2 });
    const found = await ledgerFindings(daily.run.id);
    expect(found.get(broken)).toMatchObject({ balance: 90, ledgerSum: 90, chainBrokenAtSeq: brokenAt });
    expect(found.get(broken)).toMatchObject({ grantsInconsistent: false, grantsRemaining: 90 });
    expect(found.get(drifted)).toMatchObject({ balance: 53, ledgerSum: 49, chainBrokenAtSeq: null });

    // Reported again by the next daily run (its users checked from their first row), and by a full pass.
    const nextDay = await run();
    expect(nextDay.flagged.sort()).toEqual([broken, drifted].sort());
    expect((await ledgerFindings(nextDay.run.id)).get(broken)).toMatchObject({ chainBrokenAtSeq: brokenAt });
    const full = await run(true);
    expect(full.flagged.sort()).toEqual([broken, drifted].sort());
    expect((await ledgerFindings(full.run.id)).get(broken)).toMatchObject({ chainBrokenAtSeq: brokenAt });

    // Fixed balances drop out; rows cannot be changed, so the broken chain stays reported.
    await tamper(drifted, -4);
    expect((await run()).flagged).toEqual([broken]);
  });
});

describe.runIf(testDb.url)("the ledger watermark", () => {
  it("waits for a posting still open below the highest seq, so the checkpoint skips none", async () => {
    const early = await newUser(50);
    const late = await newUser(50);
    let committed = false;
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The early posting takes its seq first and commits last (its own pooled connection).
    const open = db.transaction(async (tx) => {
      await tx.execute(sql`
        SELECT * FROM post_ledger(jsonb_build_array(jsonb_build_object(
          'ord', 0, 'user_id', ${early}::uuid, 'amount', -1, 'kind', 'spend', 'idempotency_key', ${randomUUID()}::text)))`);
      await held;
      committed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await post(late, -1, "spend");
    const watermark = createLedgerStore(db).ledgerWatermark();
    setTimeout(release, 300);
    const { seq, settled } = await watermark;
    expect(committed).toBe(true);
    await open;
    expect(settled).toBe(true);
    const [row] = (await db.execute(
      sql`SELECT max(seq)::bigint AS seq FROM credit_transactions WHERE user_id = ${early}::uuid`,
    )) as unknown as { seq: string }[];
    expect(Number(row?.seq)).toBeLessThan(seq);
  });
});
