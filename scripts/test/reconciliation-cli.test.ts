import { randomUUID } from "node:crypto";
import { rowsOf } from "@credits/db";
import { adminActions, ledgerBreakAcknowledgements } from "@credits/db/schema";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { cliHarness } from "./cli-harness.ts";

// `pnpm cli reconcile`: stderr is not a terminal, so progress comes as plain lines.
const { cli, inspect } = await cliHarness();

describe("pnpm cli reconcile", () => {
  it("runs a reconciliation for the window and prints the summary table", async () => {
    const since = new Date(Date.now() - 2 * 86_400_000).toISOString();
    const { code, stdout, stderr } = await cli(["reconcile", "--since", since]);
    expect(stderr).not.toContain("\x1b[");
    expect(stderr.trim().split("\n")).toEqual([
      "reconcile: 1/4 sessions (0 sessions, 0 charges, 0 payments, 0 findings)",
      "reconcile: 2/4 charges (0 sessions, 0 charges, 0 payments, 0 findings)",
      "reconcile: 3/4 payments (0 sessions, 0 charges, 0 payments, 0 findings)",
      "reconcile: 4/4 ledger (0 sessions, 0 charges, 0 payments, 0 findings)",
    ]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^run {8}[0-9a-f-]{36} \(cli, succeeded\)$/m);
    expect(stdout).toContain(`window     ${since} .. `);
    // The off-session PaymentIntents (auto top-ups) listed, as the admin API's run shows them.
    expect(stdout).toMatch(/^seen .*, 0 charges \(0 unmatched\), 0 auto top-up PaymentIntents, 0 payments, /m);
    for (const kind of ["missing_credit", "unexpected_credit", "refund_not_clawed_back", "amount_mismatch"]) {
      expect(stdout).toMatch(new RegExp(`^${kind} +0 +0$`, "m"));
    }
    expect(stdout).toMatch(/^total +0 +0$/m);
  });

  it("refuses a date it cannot read, and a window longer than a month", async () => {
    const unreadable = await cli(["reconcile", "--since", "last tuesday"]);
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr.trim()).toBe("error: --since must be an ISO date");
    const tooLong = await cli(["reconcile", "--since", "2020-01-01"]);
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr.trim()).toBe("error: the window may span at most 31 days");
    expect(tooLong.stdout).toBe("");
  });
});

describe("pnpm cli reconcile:acknowledge", () => {
  it("acknowledges a ledger chain break as the named admin, audited, once", async () => {
    const admin = `ops-${randomUUID()}@example.test`;
    const customer = `customer-${randomUUID()}@example.test`;
    const password = "a long enough password";
    expect((await cli(["users:create", "--email", admin, "--password", password, "--role", "admin"])).code).toBe(0);
    expect((await cli(["users:create", "--email", customer, "--password", password])).code).toBe(0);
    // A grant of 50, then a row whose balance_after is 3 above what its amount makes of it.
    const { userId, seq, opening } = await inspect(async (db) => {
      await db.execute(sql`
        SELECT count(*) FROM post_ledger((SELECT jsonb_build_array(jsonb_build_object('ord', 0, 'user_id', id,
          'amount', 50, 'kind', 'grant', 'idempotency_key', gen_random_uuid()::text)) FROM users WHERE email = ${customer}))`);
      const [jump] = rowsOf<{ user_id: string; seq: number; opening: number }>(
        await db.execute(sql`
          INSERT INTO credit_transactions (user_id, amount, balance_after, kind, idempotency_key)
          SELECT id, -5, 48, 'spend', gen_random_uuid()::text FROM users WHERE email = ${customer}
          RETURNING user_id, seq::int AS seq,
                    (SELECT min(seq)::int FROM credit_transactions t WHERE t.user_id = credit_transactions.user_id) AS opening`),
      );
      return { userId: jump?.user_id ?? "", seq: jump?.seq ?? 0, opening: jump?.opening ?? 0 };
    });
    const args = ["reconcile:acknowledge", "--admin", admin, "--user-id", userId, "--seq", String(seq)];
    const first = await cli([...args, "--reason", "seen, a restore"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^acknowledged: user ${userId}, row ${seq}, jump 3 \\(`, "m"));
    const again = await cli([...args, "--reason", "seen, a restore"]);
    expect(again.stdout).toMatch(/^already acknowledged: /m);
    // Another reason is another request: refused, not answered as the first (the rules of an adjustment).
    const otherReason = await cli([...args, "--reason", "again"]);
    expect(otherReason.code).toBe(1);
    expect(otherReason.stderr).toContain("already acknowledged by another request");

    const notAdmin = await cli([
      "reconcile:acknowledge",
      "--admin",
      customer,
      "--user-id",
      userId,
      "--seq",
      String(seq),
      "--reason",
      "x",
    ]);
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.stderr.trim()).toBe("error: --admin must be the email of an admin account");
    const badSeq = await cli([
      "reconcile:acknowledge",
      "--admin",
      admin,
      "--user-id",
      userId,
      "--seq",
      "1.5",
      "--reason",
      "x",
    ]);
    expect(badSeq.stderr.trim()).toBe("error: --seq must be a ledger row's seq");
    const noBreak = await cli([...args.slice(0, -1), String(opening), "--reason", "x"]);
    expect(noBreak.code).toBe(1);
    expect(noBreak.stderr).toMatch(/no break to acknowledge/);

    const { acks, audit } = await inspect(async (db) => ({
      acks: await db.select().from(ledgerBreakAcknowledgements),
      audit: await db.select().from(adminActions).where(eq(adminActions.action, "ledger_break.acknowledged")),
    }));
    expect(acks).toEqual([expect.objectContaining({ userId, seq, delta: 3, reason: "seen, a restore" })]);
    expect(audit).toHaveLength(1);
    expect(audit[0]?.detail).toEqual({ seq, delta: 3, via: "cli", threshold: 10_000 });
  });

  it("a break above the approval threshold: sent from the CLI, never accepted from it", async () => {
    const password = "a long enough password";
    const [first, second, customer] = ["ops-a", "ops-b", "customer"].map(
      (l) => `${l}-${randomUUID()}@example.test`,
    ) as [string, string, string];
    for (const email of [first, second]) {
      expect((await cli(["users:create", "--email", email, "--password", password, "--role", "admin"])).code).toBe(0);
    }
    expect((await cli(["users:create", "--email", customer, "--password", password])).code).toBe(0);
    // A grant of 50, then a row 20,000 above what its amount makes of it (the default threshold: 10,000).
    const { userId, seq } = await inspect(async (db) => {
      await db.execute(sql`
        SELECT count(*) FROM post_ledger((SELECT jsonb_build_array(jsonb_build_object('ord', 0, 'user_id', id,
          'amount', 50, 'kind', 'grant', 'idempotency_key', gen_random_uuid()::text)) FROM users WHERE email = ${customer}))`);
      const [jump] = rowsOf<{ user_id: string; seq: number }>(
        await db.execute(sql`
          INSERT INTO credit_transactions (user_id, amount, balance_after, kind, idempotency_key)
          SELECT id, -5, 20045, 'spend', gen_random_uuid()::text FROM users WHERE email = ${customer}
          RETURNING user_id, seq::int AS seq`),
      );
      return { userId: jump?.user_id ?? "", seq: jump?.seq ?? 0 };
    });
    const args = (admin: string) => [
      "reconcile:acknowledge",
      "--admin",
      admin,
      "--user-id",
      userId,
      "--seq",
      String(seq),
    ];
    const sent = await cli([...args(first), "--reason", "restored from a backup"]);
    expect(sent.stdout).toMatch(
      new RegExp(
        `^sent to a second admin \\(above what one admin may accept\\): user ${userId}, row ${seq}, jump 20000 \\(`,
        "m",
      ),
    );
    const again = await cli([...args(first), "--reason", "restored from a backup"]);
    expect(again.stdout).toMatch(/^already sent to a second admin /m);
    expect(
      await inspect((db) => db.$count(ledgerBreakAcknowledgements, eq(ledgerBreakAcknowledgements.userId, userId))),
    ).toBe(0);
    // The CLI names its admin by email alone, so it cannot be a second person: that is the
    // signed-in admin pages' (or the API's).
    const refused = await cli([...args(second), "--reason", "checked the backup"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("accept it signed in, in the admin pages");
    const { acks, audit } = await inspect(async (db) => ({
      acks: await db.$count(ledgerBreakAcknowledgements, eq(ledgerBreakAcknowledgements.userId, userId)),
      audit: await db.select().from(adminActions).where(eq(adminActions.action, "ledger_break.requested")),
    }));
    expect(acks).toBe(0);
    expect(audit.map((a) => [a.action, a.detail])).toEqual([
      ["ledger_break.requested", { seq, delta: 20_000, via: "cli" }],
    ]);
  });
});
