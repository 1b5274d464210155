import { randomUUID } from "node:crypto";
import { adminActions, creditTransactions, users } from "@credits/db/schema";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { cliHarness } from "./cli-harness.ts";

// `pnpm cli users:adjust`, with an approval threshold of 1,000 credits.
const { cli, inspect } = await cliHarness({ ADMIN_APPROVAL_THRESHOLD: "1000" });

const admin = `ops-${randomUUID()}@example.test`;
const customer = `customer-${randomUUID()}@example.test`;
const PASSWORD = "a long enough password";

describe("pnpm cli users:adjust", () => {
  it("applies an adjustment as the named admin: one ledger row and its audit row, once per key", async () => {
    expect((await cli(["users:create", "--email", admin, "--password", PASSWORD, "--role", "admin"])).code).toBe(0);
    expect((await cli(["users:create", "--email", customer, "--password", PASSWORD])).code).toBe(0);
    const args = ["users:adjust", "--admin", admin, "--email", customer, "--amount", "250", "--reason", "goodwill"];
    const first = await cli([...args, "--idempotency-key", "ticket-4711"]);
    expect(first.stderr).toBe("");
    expect(first.stdout).toMatch(/^applied; balance 250 \(transaction [0-9a-f-]{36}\)$/m);
    const again = await cli([...args, "--idempotency-key", "ticket-4711"]);
    expect(again.stdout).toBe(first.stdout);

    const { ledger, audit, adminId } = await inspect(async (db) => {
      const [user] = await db.select().from(users).where(eq(users.email, customer));
      const [operator] = await db.select().from(users).where(eq(users.email, admin));
      return {
        adminId: operator?.id,
        ledger: await db
          .select()
          .from(creditTransactions)
          .where(eq(creditTransactions.userId, user?.id ?? "")),
        audit: await db
          .select()
          .from(adminActions)
          // Beside the CLI's own `user.created` row.
          .where(and(eq(adminActions.targetUserId, user?.id ?? ""), eq(adminActions.action, "adjust"))),
      };
    });
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({ amount: 250, balanceAfter: 250, kind: "admin_adjustment", reason: "goodwill" });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actorId: adminId, amount: 250, balanceBefore: 0, balanceAfter: 250 });
    expect(ledger[0]?.adminActionId).toBe(audit[0]?.id);
  });

  it("above the approval threshold it only files a request for another admin", async () => {
    const { code, stdout } = await cli([
      "users:adjust",
      ...["--admin", admin, "--email", customer, "--amount", "5000", "--reason", "migration from the old system"],
      ...["--idempotency-key", "ticket-4712"],
    ]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^pending approval: request [0-9a-f-]{36} \(over 1000 credits/m);
  });

  it("debits with --amount=-N; needs a key and a whole number", async () => {
    const base = ["users:adjust", "--admin", admin, "--email", customer, "--reason", "correction"];
    const debit = await cli([...base, "--amount=-50", "--idempotency-key", "ticket-4713"]);
    expect(debit.stdout).toMatch(/^applied; balance 200 /m);
    const keyless = await cli([...base, "--amount", "5"]);
    expect(keyless.code).toBe(1);
    expect(keyless.stderr.trim()).toBe("error: --idempotency-key is required");
    for (const amount of ["1e3", "0x10", "2.5"]) {
      const odd = await cli([...base, "--amount", amount, "--idempotency-key", `odd-${amount}`]);
      expect(odd.stderr.trim(), amount).toBe("error: --amount must be a whole number");
    }
  });

  it("refuses anyone but an admin, and an unknown user, and changes nothing", async () => {
    const adjust = (by: string, of: string) =>
      cli(["users:adjust", "--admin", by, "--email", of, "--amount", "9", "--reason", "x", "--idempotency-key", "k"]);
    const notAdmin = await adjust(customer, customer);
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.stderr.trim()).toBe("error: --admin must be the email of an admin account");
    const nobody = await adjust(admin, "nobody@example.test");
    expect(nobody.code).toBe(1);
    expect(nobody.stderr.trim()).toBe("error: no user with that email");
    const rows = await inspect(async (db) => {
      const [user] = await db.select().from(users).where(eq(users.email, customer));
      return db
        .select()
        .from(creditTransactions)
        .where(eq(creditTransactions.userId, user?.id ?? ""));
    });
    expect(rows).toHaveLength(2);
  });
});
