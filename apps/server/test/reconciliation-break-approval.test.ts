import { rowsOf } from "@credits/db";
import { adminActions, ledgerBreakAcknowledgements } from "@credits/db/schema";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { startTestServer, testDb } from "./harness.ts";
import { call } from "./http-call.ts";
import { breakAdmins } from "./ledger-break-admins.ts";

// Who may acknowledge a break of a user's ledger chain (ADR 012): accepting a jump is accepting
// credits no row accounts for, so an adjustment's rules hold: never on one's own ledger, one admin
// alone only up to the approval threshold counted with what admins moved for the user alone in
// the window, beyond it a second admin. Over real HTTP, the local payment provider.

const { db } = testDb;
const THRESHOLD = 1_000;
const server = await startTestServer({ ADMIN_APPROVAL_THRESHOLD: String(THRESHOLD) });
const { adminCookie, acknowledge, bareUser, breakOf, grantTen, spendBroken } = breakAdmins(server);

// Accepting a jump is accepting credits no row accounts for: the rules of an adjustment (ADR 012).
describe("reconciliation: who may acknowledge a break", () => {
  it("not the admin whose ledger it is, and one admin alone only up to the approval threshold", async () => {
    const admin = await adminCookie();
    const own = await acknowledge(admin.cookie, { userId: admin.id, seq: await breakOf(admin.id, 2), reason: "mine" });
    expect(own.status).toBe(403);
    expect(own.body.error.code).toBe("FORBIDDEN");

    // Above the threshold, either way: the first admin's acknowledgement waits for a second admin.
    for (const jump of [THRESHOLD + 1, -(THRESHOLD + 1)]) {
      const large = await bareUser();
      const seq = await breakOf(large, jump);
      const above = await acknowledge(admin.cookie, { userId: large, seq, reason: "too large for one" });
      expect(above.status, JSON.stringify(above.body)).toBe(200);
      expect(above.body).toMatchObject({ delta: jump, actorId: admin.id, created: true, awaitingSecondAdmin: true });
    }
    const at = await bareUser();
    const atSeq = await breakOf(at, THRESHOLD);
    const atReply = await acknowledge(admin.cookie, { userId: at, seq: atSeq, reason: "at the threshold" });
    expect(atReply.body).toMatchObject({ created: true, awaitingSecondAdmin: false });
    const acknowledged = await db.select().from(ledgerBreakAcknowledgements);
    expect(acknowledged.map((a) => a.userId)).not.toContain(admin.id);
    expect(acknowledged.map((a) => a.userId)).toContain(at);
    expect(acknowledged.filter((a) => Math.abs(a.delta) > THRESHOLD)).toEqual([]);
  });

  it("above the threshold: accepted when a second admin, not the first nor the user, acknowledges it too", async () => {
    const [first, second] = [await adminCookie(), await adminCookie()];
    // The user whose ledger breaks is an admin too: they may not be the second.
    const owner = await adminCookie();
    const seq = await breakOf(owner.id, THRESHOLD + 5);
    const send = (who: { cookie: string }, reason: string) =>
      acknowledge(who.cookie, { userId: owner.id, seq, reason });
    const pending = async () =>
      (await call(server.url, "GET", "/api/v1/admin/reconciliation/ledger-breaks/pending", { cookie: second.cookie }))
        .body.requests as { userId: string; seq: number; requestedBy: string; reason: string; delta: number }[];

    expect((await send(first, "restored from backup")).body).toMatchObject({
      awaitingSecondAdmin: true,
      created: true,
    });
    // The first admin again: their request is answered; with another reason, a conflict.
    expect((await send(first, "restored from backup")).body).toMatchObject({
      awaitingSecondAdmin: true,
      created: false,
    });
    expect((await send(first, "another reason")).status).toBe(409);
    expect((await send(owner, "mine")).status).toBe(403);
    expect(await pending()).toContainEqual(
      expect.objectContaining({ userId: owner.id, seq, requestedBy: first.id, reason: "restored from backup" }),
    );
    expect(await db.$count(ledgerBreakAcknowledgements, eq(ledgerBreakAcknowledgements.userId, owner.id))).toBe(0);

    // The second admin accepts it (through tRPC), once; the audit names both.
    const trpc = await call(server.url, "POST", "/trpc/reconciliation.acknowledgeBreak", {
      cookie: second.cookie,
      body: { userId: owner.id, seq, reason: "checked the backup" },
    });
    expect(trpc.status, JSON.stringify(trpc.body)).toBe(200);
    expect(trpc.body.result.data).toMatchObject({ actorId: second.id, created: true, awaitingSecondAdmin: false });
    expect((await send(second, "checked the backup")).body).toMatchObject({
      created: false,
      awaitingSecondAdmin: false,
    });
    expect((await pending()).map((r) => r.userId)).not.toContain(owner.id);
    const trail = await db.select().from(adminActions).where(eq(adminActions.targetUserId, owner.id));
    expect(trail.map((a) => [a.action, a.actorId, a.reason])).toEqual(
      expect.arrayContaining([
        ["ledger_break.requested", first.id, "restored from backup"],
        ["ledger_break.approved", second.id, "checked the backup"],
      ]),
    );
    expect(trail.find((a) => a.action === "ledger_break.approved")?.detail).toMatchObject({
      requestedBy: first.id,
    });
    // After it: the first admin's repeat is answered the acceptance, another reason a conflict;
    // nothing written.
    expect((await send(first, "restored from backup")).body).toMatchObject({
      actorId: second.id,
      created: false,
      awaitingSecondAdmin: false,
    });
    expect((await send(first, "a third look")).status).toBe(409);
    expect(await db.$count(adminActions, eq(adminActions.targetUserId, owner.id))).toBe(trail.length);
  });

  it("two admins at once on a request: one acknowledgement", async () => {
    const [one, two, three] = [await adminCookie(), await adminCookie(), await adminCookie()];
    const user = await bareUser();
    const seq = await breakOf(user, THRESHOLD + 1);
    expect((await acknowledge(one.cookie, { userId: user, seq, reason: "first" })).status).toBe(200);
    const replies = await Promise.all(
      [two, three].map((a) => acknowledge(a.cookie, { userId: user, seq, reason: "second" })),
    );
    // Both are second admins: one records it, the other is answered it or is a conflict (another admin).
    expect(replies.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(await db.$count(ledgerBreakAcknowledgements, eq(ledgerBreakAcknowledgements.userId, user))).toBe(1);
  });
});

describe("reconciliation: one admin's breaks add up, and a second admin accepts only what was asked", () => {
  it("small breaks of one user add up within the window, with the adjustments", async () => {
    const admin = await adminCookie();
    const user = await bareUser();
    const first = await breakOf(user, 600);
    expect((await acknowledge(admin.cookie, { userId: user, seq: first, reason: "one" })).body).toMatchObject({
      created: true,
      awaitingSecondAdmin: false,
    });
    // 600 more for the same user: 1,200 in the window, above what one admin may move alone.
    const second = await breakOf(user, 600);
    expect((await acknowledge(admin.cookie, { userId: user, seq: second, reason: "two" })).body).toMatchObject({
      created: true,
      awaitingSecondAdmin: true,
    });
    // And the window counts the acknowledged jump for an adjustment too (ADR 023): 600 + 500.
    const adjusted = await call(server.url, "POST", "/api/v1/admin/adjust", {
      cookie: admin.cookie,
      body: { userId: user, amount: 500, reason: "goodwill", idempotencyKey: `adj-${user}` },
    });
    expect(adjusted.body).toMatchObject({ status: "pending" });
    // Another user's break is not counted.
    const other = await bareUser();
    const otherSeq = await breakOf(other, 600);
    expect((await acknowledge(admin.cookie, { userId: other, seq: otherSeq, reason: "other" })).body).toMatchObject({
      awaitingSecondAdmin: false,
    });
  });

  it("a request whose row's jump changed since is replaced, not accepted with the new jump", async () => {
    const [first, second] = [await adminCookie(), await adminCookie()];
    const user = await bareUser();
    // A seq left free between the grant and the break: a restore may insert a row there.
    await grantTen(user);
    const [{ free } = { free: 0 }] = rowsOf<{ free: number }>(
      await db.execute(sql`SELECT nextval(pg_get_serial_sequence('credit_transactions', 'seq'))::int AS free`),
    );
    const seq = await spendBroken(user, THRESHOLD + 1);
    expect((await acknowledge(first.cookie, { userId: user, seq, reason: "asked" })).body).toMatchObject({
      delta: THRESHOLD + 1,
      awaitingSecondAdmin: true,
    });
    await db.execute(sql`
      INSERT INTO credit_transactions (seq, user_id, amount, balance_after, kind, idempotency_key)
      OVERRIDING SYSTEM VALUE VALUES (${free}, ${user}::uuid, 1, -5000, 'grant', ${`restored-${user}`})`);
    const replaced = await acknowledge(second.cookie, { userId: user, seq, reason: "seen" });
    expect(replaced.body).toMatchObject({ actorId: second.id, awaitingSecondAdmin: true, created: true });
    expect(replaced.body.delta).not.toBe(THRESHOLD + 1);
    expect(await db.$count(ledgerBreakAcknowledgements, eq(ledgerBreakAcknowledgements.userId, user))).toBe(0);
    // The first admin now accepts the jump the second one asked for.
    expect((await acknowledge(first.cookie, { userId: user, seq, reason: "checked" })).body).toMatchObject({
      delta: replaced.body.delta,
      actorId: first.id,
      awaitingSecondAdmin: false,
    });
  });
});
