// pnpm cli <command> [--flags]: operator commands that work on either database driver.
import { parseArgs } from "node:util";
import { type ApiKeyLimits, apiKeyScopes, DomainError, isApiKeyScope, userCreatedAction } from "@credits/core";
import { createAccountStore, type DatabaseHandle, DataDirInUseError } from "@credits/db";
import { env } from "@credits/env";
import { createServices } from "@credits/server/services";
import { readPassword } from "./cli-password.ts";
import { openDatabase } from "./database.ts";
import { progressReporter, summaryTable } from "./reconcile-output.ts";

type Flags = Record<string, string | undefined> & { "password-stdin"?: boolean; full?: boolean };

const commands: Record<string, { usage: string; run: (database: DatabaseHandle, flags: Flags) => Promise<void> }> = {
  // The password comes from a hidden prompt, or standard input with --password-stdin
  // (--password works but is visible in `ps` and shell history). An account made here has no admin
  // behind it: its audit row names the CLI (actor NULL).
  "users:create": {
    usage: "--email EMAIL [--password-stdin] [--name NAME] [--role user|admin]",
    async run(database, flags) {
      const role = flags.role ?? "user";
      if (role !== "user" && role !== "admin") throw new DomainError("INVALID_INPUT", "--role must be user or admin");
      const email = required(flags, "email");
      const password = await readPassword({ password: flags.password, passwordStdin: !!flags["password-stdin"] });
      const all = services(database);
      const user = await all.auth.createUser({ email, password, name: flags.name ?? null, role });
      await all.admin.record(userCreatedAction(user, "cli", null));
      console.log(`created ${user.role} ${user.id}`);
    },
  },
  // An operator's balance change is an admin adjustment like one made in the admin pages: done as
  // a named admin, with its audit row, and above ADMIN_APPROVAL_THRESHOLD only a request that
  // another admin approves.
  "users:adjust": {
    usage:
      "--admin ADMIN_EMAIL --email EMAIL --amount=N (--amount=-N debits) --reason TEXT --idempotency-key KEY [--category C] [--priority 0-100] [--expires-at ISO8601] (a credit's grant)",
    async run(database, flags) {
      const accounts = createAccountStore(database.db);
      const admin = await accounts.findUserByEmail(required(flags, "admin").trim().toLowerCase());
      if (admin?.role !== "admin" || admin.erasedAt !== null) {
        throw new DomainError("FORBIDDEN", "--admin must be the email of an admin account");
      }
      const user = await accounts.findUserByEmail(required(flags, "email").trim().toLowerCase());
      if (!user) throw new DomainError("NOT_FOUND", "no user with that email");
      const given = required(flags, "amount");
      if (!/^-?\d{1,10}$/.test(given)) throw new DomainError("INVALID_INPUT", "--amount must be a whole number");
      const amount = Number(given);
      const priority = flags.priority;
      if (priority !== undefined && !/^\d{1,3}$/.test(priority)) {
        throw new DomainError("INVALID_INPUT", "--priority must be a whole number from 0 to 100");
      }
      const result = await services(database).admin.adjust({
        actorId: admin.id,
        userId: user.id,
        amount,
        reason: required(flags, "reason"),
        // Required: a command rerun after a crash or a lost terminal must not adjust twice.
        idempotencyKey: required(flags, "idempotency-key"),
        // The core checks them (grant-terms.ts), as for the API.
        terms: {
          category: flags.category,
          priority: priority === undefined ? undefined : Number(priority),
          expiresAt: flags["expires-at"],
        },
      });
      if (result.status === "applied") {
        console.log(`applied; balance ${result.balance} (transaction ${result.transactionId})`);
      } else {
        console.log(
          `pending approval: request ${result.adjustmentRequest.id} (over ${env.ADMIN_APPROVAL_THRESHOLD} credits, another admin must approve it)`,
        );
      }
    },
  },
  // A key answers to the admin who makes it (--admin): it stops working if they are erased or
  // stop being an admin, and its grants follow that admin's approval rule.
  "api-keys:create": {
    usage: `--admin ADMIN_EMAIL --name NAME --scopes ${apiKeyScopes.join(",")} [--grant-credits-per-day N] [--grant-calls-per-day N] [--spend-credits-per-day N] [--spend-calls-per-day N]`,
    async run(database, flags) {
      const admin = await namedAdmin(database, flags);
      const scopes = required(flags, "scopes")
        .split(",")
        .map((s) => s.trim());
      const unknown = scopes.filter((s) => !isApiKeyScope(s));
      if (unknown.length) throw new DomainError("INVALID_INPUT", `unknown scopes: ${unknown.join(", ")}`);
      const created = await services(database).apiKeys.create(
        {
          name: required(flags, "name"),
          scopes: scopes.filter(isApiKeyScope),
          ownerUserId: admin.id,
          limits: limits(flags),
        },
        { requestId: null, via: "cli" },
      );
      console.log(`API key ${created.id} (${created.scopes.join(", ")}), owned by ${admin.email}`);
      console.log("The key is shown once; store it now:");
      console.log(created.key);
    },
  },
  reconcile: {
    usage:
      "[--since ISO_DATE] [--until ISO_DATE] [--full]  (default: the last RECONCILE_WINDOW_DAYS days; --full: the ledger invariants of every user, not only those with postings since the last run)",
    async run(database, flags) {
      const window = {
        ...(flags.since ? { since: date(flags, "since") } : {}),
        ...(flags.until ? { until: date(flags, "until") } : {}),
      };
      const progress = progressReporter(process.stderr);
      try {
        const run = await services(database).reconciliation.run({
          trigger: "cli",
          ...window,
          ...(flags.full ? { fullLedger: true } : {}),
          onProgress: progress.onProgress,
        });
        progress.done();
        if (run) console.log(summaryTable(run));
      } catch (error) {
        progress.done("failed");
        if (error instanceof DomainError) throw error;
        // The run is recorded as failed; say why without a stack trace.
        console.error(`error: reconciliation failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exitCode = 1;
      }
    },
  },
  "api-keys:revoke": {
    usage: "--admin ADMIN_EMAIL --id KEY_ID",
    async run(database, flags) {
      const admin = await namedAdmin(database, flags);
      const revoked = await services(database).apiKeys.revoke(required(flags, "id"), {
        actorId: admin.id,
        requestId: null,
        via: "cli",
      });
      console.log(`revoked ${revoked.id}`);
    },
  },
};

function services(database: DatabaseHandle) {
  return createServices(env, { db: database.db });
}

async function namedAdmin(database: DatabaseHandle, flags: Flags) {
  const admin = await createAccountStore(database.db).findUserByEmail(required(flags, "admin").trim().toLowerCase());
  if (admin?.role !== "admin" || admin.erasedAt !== null) {
    throw new DomainError("FORBIDDEN", "--admin must be the email of an admin account");
  }
  return admin;
}

const limitFlags = {
  grantCreditsPerDay: "grant-credits-per-day",
  grantCallsPerDay: "grant-calls-per-day",
  spendCreditsPerDay: "spend-credits-per-day",
  spendCallsPerDay: "spend-calls-per-day",
} as const;

function limits(flags: Flags): Partial<ApiKeyLimits> {
  const chosen: Partial<ApiKeyLimits> = {};
  for (const [field, flag] of Object.entries(limitFlags) as [keyof ApiKeyLimits, string][]) {
    const given = flags[flag];
    if (given === undefined) continue;
    if (!/^\d{1,16}$/.test(given)) throw new DomainError("INVALID_INPUT", `--${flag} must be a whole number`);
    chosen[field] = Number(given);
  }
  return chosen;
}

function date(flags: Flags, name: string): Date {
  const value = new Date(required(flags, name));
  if (Number.isNaN(value.getTime())) throw new DomainError("INVALID_INPUT", `--${name} must be an ISO date`);
  return value;
}

function required(flags: Flags, name: string): string {
  const value = flags[name];
  if (!value) throw new DomainError("INVALID_INPUT", `--${name} is required`);
  return value;
}

function usage(): string {
  return ["usage: pnpm cli <command> [flags]", ...Object.entries(commands).map(([n, c]) => `  ${n} ${c.usage}`)].join(
    "\n",
  );
}

const [name, ...rest] = process.argv.slice(2);
const command = name ? commands[name] : undefined;
if (!command) {
  console.error(usage());
  process.exit(2);
}
const { values } = parseArgs({
  args: rest,
  options: {
    ...Object.fromEntries(
      [
        "admin",
        "email",
        "password",
        "name",
        "role",
        "amount",
        "reason",
        "idempotency-key",
        "scopes",
        "id",
        "since",
        "until",
        "category",
        "priority",
        "expires-at",
        ...Object.values(limitFlags),
      ].map((flag) => [flag, { type: "string" as const }]),
    ),
    "password-stdin": { type: "boolean" as const },
    full: { type: "boolean" as const },
  },
  strict: true,
});
const database = await openDatabase().catch((error: unknown) => {
  // The running server holds the embedded database: say so, without a stack trace.
  if (!(error instanceof DataDirInUseError)) throw error;
  console.error(`error: ${error.message}`);
  process.exit(1);
});
try {
  await command.run(database, values as Flags);
} catch (error) {
  if (!(error instanceof DomainError)) throw error;
  console.error(`error: ${error.message}`);
  process.exitCode = 1;
} finally {
  await database.close();
}
