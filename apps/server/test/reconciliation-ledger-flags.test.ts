import { randomUUID } from "node:crypto";
import { MAX_INVARIANT_FINDINGS, type ReconciliationRun } from "@credits/core";
import { rowsOf } from "@credits/db";
import { adminActions, ledgerBreakAcknowledgements, ledgerFlaggedUsers, users } from "@credits/db/schema";
import { plantBrokenChain } from "@credits/db/testing";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { startTestServer, testDb } from "./harness.ts";
import { call } from "./http-call.ts";
import { breakAdmins } from "./ledger-break-admins.ts";

// The ledger step never loses a violator past its limit (every one stays flagged until a pass
// finds it clean, and the next runs list the unlisted first), and an admin can acknowledge a
// break of a user's chain, after which only that jump at that row is accepted (ADR 012; who may:
// reconciliation-break-approval.test.ts). Its own file: the runs' checkpoints and the flagged set
// are this file's alone. The local payment provider
// (nothing at Stripe to compare): the admin's calls go over real HTTP to the server.

const { db } = testDb;
const THRESHOLD = 1_000;
const server = await startTestServer({ ADMIN_APPROVAL_THRESHOLD: String(THRESHOLD) });
const { reconciliation } = server.services;
const { adminCookie, acknowledge } = breakAdmins(server);

const post = (userId: string, amount: number, kind: "grant" | "spend") =>
  db.execute(sql`
    SELECT * FROM post_ledger(jsonb_build_array(jsonb_build_object(
      'ord', 0, 'user_id', ${userId}::uuid, 'amount', ${amount}::bigint, 'kind', ${kind}::text,
      'idempotency_key', ${randomUUID()}::text)))`);

const tamper = (userId: string, by: number) =>
  db.execute(sql`UPDATE users SET credits_balance = credits_balance + ${by} WHERE id = ${userId}::uuid`);

async function newUser(credits: number): Promise<string> {
  const [user] = await db
    .insert(users)
    .values({ email: `flags-${randomUUID()}@example.test` })
    .returning({ id: users.id });
  if (!user) throw new Error("user not created");
  await post(user.id, credits, "grant");
  return user.id;
}

async function run(fullLedger = false) {
  const result = await reconciliation.run({ trigger: "manual", ...(fullLedger ? { fullLedger } : {}) });
  if (result?.status !== "succeeded") throw new Error("the run did not succeed");
  const listed = rowsOf<{ user_id: string; detail: Record<string, unknown> }>(
    await db.execute(sql`SELECT user_id, detail FROM reconciliation_findings
                          WHERE run_id = ${result.id}::uuid AND kind = 'ledger_invariant'`),
  );
  return {
    run: result as ReconciliationRun,
    flagged: listed.map((f) => f.user_id),
    detail: new Map(listed.map((f) => [f.user_id, f.detail])),
  };
}

describe("reconciliation: violators past the ledger step's limit", () => {
  it("are counted, stay flagged and are listed by the next daily run, not the weekly pass", async () => {
    expect((await run()).run.stats).toMatchObject({ ledgerPass: "full" });
    // More users in violation than a run lists, all with rows after the checkpoint: a grant each
    // (one posting statement), then a balance one above it.
    const tag = randomUUID();
    const many = rowsOf<{ id: string }>(
      await db.execute(sql`
        INSERT INTO users (email) SELECT 'many-' || ${tag} || '-' || i || '@example.test'
          FROM generate_series(1, ${MAX_INVARIANT_FINDINGS + 3}) AS i RETURNING id`),
    ).map((row) => row.id);
    await db.execute(sql`
      SELECT count(*) FROM post_ledger((
        SELECT jsonb_agg(jsonb_build_object('ord', 0, 'user_id', id, 'amount', 10, 'kind', 'grant',
                                            'idempotency_key', gen_random_uuid()::text))
          FROM users WHERE email LIKE 'many-' || ${tag} || '-%'))`);
    await db.execute(
      sql`UPDATE users SET credits_balance = credits_balance + 1 WHERE email LIKE 'many-' || ${tag} || '-%'`,
    );

    const first = await run();
    expect(first.flagged).toHaveLength(MAX_INVARIANT_FINDINGS);
    // The next daily run checks every flagged user and lists the three not listed first: between
    // them the two daily runs list every user in violation.
    const second = await run();
    const unlisted = many.filter((id) => !first.flagged.includes(id));
    expect(unlisted).toHaveLength(3);
    expect(second.flagged).toEqual(expect.arrayContaining(unlisted));
    expect(new Set([...first.flagged, ...second.flagged])).toEqual(new Set(many));
    expect(second.run.stats).toMatchObject({ ledgerPass: "incremental", usersChecked: many.length });
    // The first run said what it did not list.
    expect(first.run.stats?.findings.ledger_invariant).toBe(many.length);
    expect(first.run.stats).toMatchObject({ findingsTruncated: true, ledgerUnlisted: 3 });
    expect(await db.$count(ledgerFlaggedUsers)).toBe(many.length);

    // Repaired, they are found clean and leave the flagged set: the next day reads none of them.
    await db.execute(
      sql`UPDATE users SET credits_balance = credits_balance - 1 WHERE email LIKE 'many-' || ${tag} || '-%'`,
    );
    const repaired = await run();
    expect(repaired.flagged).toEqual([]);
    expect(repaired.run.stats).toMatchObject({ findingsTruncated: false, ledgerUnlisted: 0 });
    expect(await db.$count(ledgerFlaggedUsers)).toBe(0);
    expect((await run()).run.stats).toMatchObject({ ledgerPass: "incremental", usersChecked: 0 });
  });
});

describe("reconciliation: the listing past the limit takes turns", () => {
  it("lists those never listed first, then the least recently listed", async () => {
    const drifted = await Promise.all(Array.from({ length: 5 }, () => newUser(10)));
    await run(true);
    for (const id of drifted) {
      await post(id, -1, "spend");
      await tamper(id, 1);
    }
    const daily = () =>
      reconciliation.run({ trigger: "manual", maxLedgerFindings: 2 }).then(async (result) => {
        const rows = rowsOf<{ user_id: string }>(
          await db.execute(sql`SELECT user_id FROM reconciliation_findings
                                WHERE run_id = ${result?.id}::uuid AND kind = 'ledger_invariant'`),
        );
        expect(result?.stats).toMatchObject({ ledgerUnlisted: 3, findingsTruncated: true });
        return rows.map((row) => row.user_id);
      });
    const first = await daily();
    const second = await daily();
    const third = await daily();
    expect(first).toHaveLength(2);
    expect(second.filter((id) => first.includes(id))).toEqual([]);
    const last = drifted.filter((id) => !first.includes(id) && !second.includes(id));
    expect(last).toHaveLength(1);
    expect(third).toEqual(expect.arrayContaining(last));
    // The other one the third run lists is one of the first run's: listed longest ago.
    expect(third.filter((id) => !last.includes(id)).every((id) => first.includes(id))).toBe(true);
    for (const id of drifted) await tamper(id, -1);
    expect((await run(true)).flagged).toEqual([]);
  });
});

const audited = () => db.select().from(adminActions).where(eq(adminActions.action, "ledger_break.acknowledged"));

describe("reconciliation: an acknowledged chain break", () => {
  it("is no longer reported; the user's other and later breaks are", async () => {
    const broken = await newUser(100);
    const bystander = await newUser(10);
    await run(true);
    const [first, second] = await plantBrokenChain(db, broken);
    expect((await run()).detail.get(broken)).toMatchObject({ chainBrokenAtSeq: first });

    const admin = await adminCookie();
    const reply = await acknowledge(admin.cookie, { userId: broken, seq: first, reason: "planted by the test" });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(reply.body).toMatchObject({ userId: broken, seq: first, delta: 2, actorId: admin.id, created: true });
    const [audit] = await audited();
    expect(audit).toMatchObject({ actorId: admin.id, targetUserId: broken, reason: "planted by the test" });
    expect(audit?.detail).toEqual({ seq: first, delta: 2, via: "api", threshold: THRESHOLD });

    // Again, through tRPC: the first acknowledgement is answered, nothing written; with another
    // reason, or by another admin, a conflict.
    const again = await call(server.url, "POST", "/trpc/reconciliation.acknowledgeBreak", {
      cookie: admin.cookie,
      body: { userId: broken, seq: first, reason: "planted by the test" },
    });
    expect(again.status).toBe(200);
    expect(again.body.result.data).toMatchObject({ reason: "planted by the test", created: false });
    expect(again.body.result.data.createdAt).toBe(reply.body.createdAt);
    const otherReason = await acknowledge(admin.cookie, { userId: broken, seq: first, reason: "a second look" });
    expect(otherReason.status).toBe(409);
    expect(otherReason.body.error.code).toBe("INVALID_STATE");
    const otherAdmin = await adminCookie();
    const theirs = await acknowledge(otherAdmin.cookie, { userId: broken, seq: first, reason: "planted by the test" });
    expect(theirs.status).toBe(409);
    expect(await audited()).toHaveLength(1);

    // The same user's other break is still reported, until acknowledged too.
    expect((await run()).detail.get(broken)).toMatchObject({ chainBrokenAtSeq: second });
    const other = await acknowledge(admin.cookie, { userId: broken, seq: second, reason: "its pair" });
    expect(other.body).toMatchObject({ delta: -2, created: true });
    expect((await run()).flagged).toEqual([]);
    expect((await run(true)).flagged).toEqual([]);
    expect((await run()).run.stats).toMatchObject({ ledgerPass: "incremental", usersChecked: 0 });

    // A later drift of the same user breaks the chain at a new row: reported by the daily pass.
    await tamper(broken, 3);
    await post(broken, -1, "spend");
    const [{ seq: third } = { seq: 0 }] = rowsOf<{ seq: number }>(
      await db.execute(sql`SELECT max(seq)::int AS seq FROM credit_transactions WHERE user_id = ${broken}::uuid`),
    );
    expect((await run()).detail.get(broken)).toMatchObject({ chainBrokenAtSeq: third });
    // Acknowledged, the jump is the ledger's on both passes (sum 89 plus 2 - 2 + 3): what is left is
    // the grants, which the drift did not move.
    await acknowledge(admin.cookie, { userId: broken, seq: third, reason: "the drift" });
    const after = { balance: 92, ledgerSum: 92, chainBrokenAtSeq: null, grantsRemaining: 89 };
    expect((await run()).detail.get(broken)).toMatchObject(after);
    expect((await run(true)).detail.get(broken)).toMatchObject(after);

    // Refused, writing nothing: a row that continues the one before it, a seq not of that user, no
    // reason (callers who are not admins: the authorization matrix).
    const opening = rowsOf<{ seq: number }>(
      await db.execute(sql`SELECT min(seq)::int AS seq FROM credit_transactions WHERE user_id = ${broken}::uuid`),
    )[0]?.seq;
    const noBreak = await acknowledge(admin.cookie, { userId: broken, seq: opening, reason: "fine" });
    expect(noBreak.status).toBe(409);
    expect(noBreak.body.error.code).toBe("INVALID_STATE");
    const elsewhere = await acknowledge(admin.cookie, { userId: bystander, seq: first, reason: "wrong user" });
    expect(elsewhere.status).toBe(404);
    expect((await acknowledge(admin.cookie, { userId: broken, seq: first, reason: " " })).status).toBe(400);
    expect(await db.$count(ledgerBreakAcknowledgements)).toBe(3);
    expect(await audited()).toHaveLength(3);
  });
});

// Migration 0037 seeded the flagged set from stored findings only: a violator lost past the old
// findings cap before it, with nothing posted since, was in no set and below the checkpoint. The
// first run after the upgrade is a full pass, whenever the last full pass ran (review11 F4).
describe("reconciliation: the first run after the flagged set existed", () => {
  it("is a full pass, which flags a violator the set's seed missed", async () => {
    const flaggedSet = async () => (await db.select().from(ledgerFlaggedUsers)).map((row) => row.userId);
    const lost = await newUser(10);
    expect((await run(true)).flagged).not.toContain(lost);
    await tamper(lost, 1);
    // As before 0037: the runs' stats had no ledgerUnlisted, and the violator is in no set.
    await db.execute(sql`UPDATE reconciliation_runs SET stats = stats - 'ledgerUnlisted'`);
    expect(await flaggedSet()).not.toContain(lost);

    const first = await run();
    expect(first.run.stats).toMatchObject({ ledgerPass: "full" });
    expect(first.flagged).toContain(lost);
    expect(await flaggedSet()).toContain(lost);
    // That pass counts: the next run is daily again, and still reports the violator (flagged).
    const next = await run();
    expect(next.run.stats).toMatchObject({ ledgerPass: "incremental" });
    expect(next.flagged).toContain(lost);
    await tamper(lost, -1);
    expect((await run()).flagged).not.toContain(lost);
  });
});
