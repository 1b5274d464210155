import { randomUUID } from "node:crypto";
import { createAuthService } from "@credits/core";
import { createAccountStore, createSessionStore } from "@credits/db";
import { adminActions, apiKeys, users } from "@credits/db/schema";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { cliHarness } from "./cli-harness.ts";

// `pnpm cli users:create` and `api-keys:*`: passwords never need to be arguments, users made here
// are audited as made by the CLI, and every key is made and revoked by a named admin.
const { cli, inspect } = await cliHarness();

const admin = `ops-${randomUUID()}@example.test`;
const plain = `plain-${randomUUID()}@example.test`;
const PASSWORD = "a long enough password";

const userByEmail = (email: string) =>
  inspect(async (db) => (await db.select().from(users).where(eq(users.email, email)))[0]);

describe("pnpm cli users:create", () => {
  it("reads the password from standard input and audits the new admin as made by the CLI", async () => {
    const made = await cli(["users:create", "--email", admin, "--role", "admin", "--password-stdin"], `${PASSWORD}\n`);
    expect(made.stderr).toBe("");
    expect(made.stdout).toMatch(/^created admin [0-9a-f-]{36}$/m);
    const user = await userByEmail(admin);
    const audit = await inspect((db) =>
      db
        .select()
        .from(adminActions)
        .where(eq(adminActions.targetUserId, user?.id ?? "")),
    );
    expect(audit).toEqual([
      expect.objectContaining({ actorId: null, action: "user.created", detail: { via: "cli", role: "admin" } }),
    ]);
    // The trailing newline of the piped input is not part of the password.
    const session = await inspect((db) =>
      createAuthService({ accounts: createAccountStore(db), sessions: createSessionStore(db) }).logIn({
        email: admin,
        password: PASSWORD,
      }),
    );
    expect(session.user.email).toBe(admin);
  });

  it("without a terminal or --password-stdin it refuses; --password works with a warning", async () => {
    const refused = await cli(["users:create", "--email", plain]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--password-stdin/);
    expect(await userByEmail(plain)).toBeUndefined();
    const argued = await cli(["users:create", "--email", plain, "--password", PASSWORD]);
    expect(argued.code).toBe(0);
    expect(argued.stderr).toMatch(/warning: --password is visible/);
  });
});

describe("pnpm cli api-keys", () => {
  it("makes a key only as a named admin, with its limits and an audit row naming the CLI", async () => {
    const args = ["api-keys:create", "--name", "billing-tool", "--scopes", "credits:grant"];
    expect((await cli(args)).stderr).toMatch(/--admin is required/);
    const notAdmin = await cli([...args, "--admin", plain]);
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.stderr).toMatch(/--admin must be the email of an admin/);
    expect(await inspect((db) => db.$count(apiKeys))).toBe(0);

    const made = await cli([
      ...args,
      "--admin",
      admin,
      "--grant-credits-per-day",
      "5000",
      "--grant-calls-per-day",
      "10",
    ]);
    expect(made.code).toBe(0);
    const key = made.stdout.trim().split("\n").at(-1) ?? "";
    expect(key).toMatch(/^ck_[a-z2-7]{39}$/);
    const owner = await userByEmail(admin);
    const [row] = await inspect((db) => db.select().from(apiKeys));
    expect(row).toMatchObject({ ownerUserId: owner?.id, grantCreditsPerDay: 5000, grantCallsPerDay: 10 });

    const revoked = await cli(["api-keys:revoke", "--admin", admin, "--id", row?.id ?? ""]);
    expect(revoked.stdout).toMatch(/^revoked /m);
    const audit = await inspect((db) =>
      db
        .select()
        .from(adminActions)
        .where(eq(adminActions.apiKeyId, row?.id ?? "")),
    );
    expect(audit).toEqual([
      expect.objectContaining({
        actorId: owner?.id,
        action: "api_key.created",
        detail: expect.objectContaining({ via: "cli" }),
      }),
      expect.objectContaining({ actorId: owner?.id, action: "api_key.revoked" }),
    ]);
    expect(JSON.stringify(audit)).not.toContain(key);
  });

  it("refuses a limit that is not a whole number", async () => {
    const made = await cli([
      ...["api-keys:create", "--admin", admin, "--name", "x", "--scopes", "credits:spend"],
      ...["--spend-calls-per-day", "ten"],
    ]);
    expect(made.code).toBe(1);
    expect(made.stderr).toMatch(/--spend-calls-per-day must be a whole number/);
  });
});
