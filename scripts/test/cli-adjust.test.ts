import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createDatabase, type DatabaseHandle } from "@credits/db";
import { adminActions, creditTransactions, users } from "@credits/db/schema";
import { createTestDatabase } from "@credits/db/testing";
import { env } from "@credits/env";
import { eq } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";

// `pnpm cli users:adjust` as an operator runs it: its own process on its own database (a
// PostgreSQL test database, or a fresh PGlite directory that this file opens only between runs).

const root = fileURLToPath(new URL("../../", import.meta.url));
const serverUrl = env.TEST_DATABASE_URL ?? env.DATABASE_URL;
const database = serverUrl ? await createTestDatabase(serverUrl) : null;
const dataDir = database ? null : mkdtempSync(join(tmpdir(), "credits-cli-adjust-"));
afterAll(async () => {
  await database?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["scripts/src/cli.ts", ...args],
      {
        cwd: root,
        env: {
          PATH: process.env.PATH,
          NODE_ENV: "test",
          ADMIN_APPROVAL_THRESHOLD: "1000",
          ...(database?.url ? { DATABASE_URL: database.url } : { DATA_DIR: dataDir ?? "" }),
        },
        timeout: 60_000,
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

// The test's own view of the database the CLI wrote (on PGlite, opened after the CLI exited).
async function inspect<T>(read: (db: DatabaseHandle["db"]) => Promise<T>): Promise<T> {
  if (database) return read(database.db);
  const handle = createDatabase({ dataDir: dataDir ?? "" });
  try {
    return await read(handle.db);
  } finally {
    await handle.close();
  }
}

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
          .where(eq(adminActions.targetUserId, user?.id ?? "")),
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
    ]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^pending approval: request [0-9a-f-]{36} \(over 1000 credits/m);
  });

  it("refuses anyone but an admin, and an unknown user, and changes nothing", async () => {
    const notAdmin = await cli([
      "users:adjust",
      "--admin",
      customer,
      "--email",
      customer,
      "--amount",
      "9",
      "--reason",
      "x",
    ]);
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.stderr.trim()).toBe("error: --admin must be the email of an admin account");
    const nobody = await cli([
      "users:adjust",
      "--admin",
      admin,
      "--email",
      "nobody@example.test",
      "--amount",
      "9",
      "--reason",
      "x",
    ]);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr.trim()).toBe("error: no user with that email");
    const rows = await inspect(async (db) => {
      const [user] = await db.select().from(users).where(eq(users.email, customer));
      return db
        .select()
        .from(creditTransactions)
        .where(eq(creditTransactions.userId, user?.id ?? ""));
    });
    expect(rows).toHaveLength(1);
  });
});
