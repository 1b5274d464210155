// The commands of `pnpm cli`, apart from the process that runs them: cli.ts gives them the real
// database, environment and standard streams; the tests run them in-process on their own database
// (a Node process per command cost seconds of module loading each) and keep one spawn per property
// that needs a process (exit status, standard input, the data directory lock).
import { parseArgs } from "node:util";
import { type ApiKeyLimits, apiKeyScopes, DomainError, isApiKeyScope, userCreatedAction } from "@credits/core";
import { createAccountStore, type DatabaseHandle } from "@credits/db";
import type { Env } from "@credits/env";
import { createServices } from "@credits/server/services";
import { type PasswordInput, readPassword } from "./cli-password.ts";
import { type ProgressStream, progressReporter, summaryTable } from "./reconcile-output.ts";

export interface CliContext extends PasswordInput {
  database: DatabaseHandle;
  env: Env;
  out: (line: string) => void;
  err: (line: string) => void;
  stderr: ProgressStream;
  // 1 when a command failed after printing its own error (a failed reconciliation run).
  exitCode: number;
}

type Flags = Record<string, string | undefined> & { "password-stdin"?: boolean; full?: boolean };

const commands: Record<string, { usage: string; run: (cli: CliContext, flags: Flags) => Promise<void> }> = {
  // The password comes from a hidden prompt, or standard input with --password-stdin
  // (--password works but is visible in `ps` and shell history). An account made here has no admin
  // behind it: its audit row names the CLI (actor NULL).
  "users:create": {
    usage: "--email EMAIL [--password-stdin] [--name NAME] [--role user|admin]",
    async run(cli, flags) {
      const role = flags.role ?? "user";
      if (role !== "user" && role !== "admin") throw new DomainError("INVALID_INPUT", "--role must be user or admin");
      const email = required(flags, "email");
      const password = await readPassword(cli, { password: flags.password, passwordStdin: !!flags["password-stdin"] });
      const all = services(cli);
      const user = await all.auth.createUser({ email, password, name: flags.name ?? null, role });
      await all.admin.record(userCreatedAction(user, "cli", null));
      cli.out(`created ${user.role} ${user.id}`);
    },
  },
  // An operator's balance change is an admin adjustment like one made in the admin pages: done as
  // a named admin, with its audit row, and above ADMIN_APPROVAL_THRESHOLD only a request that
  // another admin approves.
  "users:adjust": {
    usage:
      "--admin ADMIN_EMAIL --email EMAIL --amount=N (--amount=-N debits) --reason TEXT --idempotency-key KEY [--category C] [--priority 0-100] [--expires-at ISO8601] (a credit's grant)",
    async run(cli, flags) {
      const accounts = createAccountStore(cli.database.db);
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
      const result = await services(cli).admin.adjust({
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
        cli.out(`applied; balance ${result.balance} (transaction ${result.transactionId})`);
      } else {
        cli.out(
          `pending approval: request ${result.adjustmentRequest.id} (over ${cli.env.ADMIN_APPROVAL_THRESHOLD} credits, another admin must approve it)`,
        );
      }
    },
  },
  // A key answers to the admin who makes it (--admin): it stops working if they are erased or
  // stop being an admin, and its grants follow that admin's approval rule.
  "api-keys:create": {
    usage: `--admin ADMIN_EMAIL --name NAME --scopes ${apiKeyScopes.join(",")} [--grant-credits-per-day N] [--grant-calls-per-day N] [--spend-credits-per-day N] [--spend-calls-per-day N]`,
    async run(cli, flags) {
      const admin = await namedAdmin(cli, flags);
      const scopes = required(flags, "scopes")
        .split(",")
        .map((s) => s.trim());
      const unknown = scopes.filter((s) => !isApiKeyScope(s));
      if (unknown.length) throw new DomainError("INVALID_INPUT", `unknown scopes: ${unknown.join(", ")}`);
      const created = await services(cli).apiKeys.create(
        {
          name: required(flags, "name"),
          scopes: scopes.filter(isApiKeyScope),
          ownerUserId: admin.id,
          limits: limits(flags),
        },
        { requestId: null, via: "cli" },
      );
      cli.out(`API key ${created.id} (${created.scopes.join(", ")}), owned by ${admin.email}`);
      cli.out("The key is shown once; store it now:");
      cli.out(created.key);
    },
  },
  reconcile: {
    usage:
      "[--since ISO_DATE] [--until ISO_DATE] [--full]  (default: the last RECONCILE_WINDOW_DAYS days; --full: the ledger invariants of every user, not only those with postings since the last run)",
    async run(cli, flags) {
      const window = {
        ...(flags.since ? { since: date(flags, "since") } : {}),
        ...(flags.until ? { until: date(flags, "until") } : {}),
      };
      const progress = progressReporter(cli.stderr);
      try {
        const run = await services(cli).reconciliation.run({
          trigger: "cli",
          ...window,
          ...(flags.full ? { fullLedger: true } : {}),
          onProgress: progress.onProgress,
        });
        progress.done();
        if (run) cli.out(summaryTable(run));
      } catch (error) {
        progress.done("failed");
        if (error instanceof DomainError) throw error;
        // The run is recorded as failed; say why without a stack trace.
        cli.err(`error: reconciliation failed: ${error instanceof Error ? error.message : String(error)}`);
        cli.exitCode = 1;
      }
    },
  },
  // The admin pages' acknowledgement of a ledger chain break (a ledger_invariant finding's
  // chainBrokenAtSeq), as a named admin, audited; repeating it answers the first one. Above the
  // approval threshold the first admin's waits for a second admin's.
  "reconcile:acknowledge": {
    usage: "--admin ADMIN_EMAIL --user-id USER_ID --seq N --reason TEXT",
    async run(cli, flags) {
      const admin = await namedAdmin(cli, flags);
      const seq = required(flags, "seq");
      if (!/^\d{1,15}$/.test(seq)) throw new DomainError("INVALID_INPUT", "--seq must be a ledger row's seq");
      const {
        acknowledgement: ack,
        created,
        awaitingSecondAdmin,
      } = await services(cli).reconciliation.acknowledgeBreak({
        actorId: admin.id,
        userId: required(flags, "user-id"),
        seq: Number(seq),
        reason: required(flags, "reason"),
        requestId: null,
        via: "cli",
      });
      const when = ack.createdAt.toISOString();
      const done = awaitingSecondAdmin
        ? `${created ? "sent" : "already sent"} to a second admin (above what one admin may accept)`
        : created
          ? "acknowledged"
          : "already acknowledged";
      cli.out(`${done}: user ${ack.userId}, row ${ack.seq}, jump ${ack.delta} (${when})`);
    },
  },
  "api-keys:revoke": {
    usage: "--admin ADMIN_EMAIL --id KEY_ID",
    async run(cli, flags) {
      const admin = await namedAdmin(cli, flags);
      const revoked = await services(cli).apiKeys.revoke(required(flags, "id"), {
        actorId: admin.id,
        requestId: null,
        via: "cli",
      });
      cli.out(`revoked ${revoked.id}`);
    },
  },
};

function services(cli: CliContext) {
  return createServices(cli.env, { db: cli.database.db });
}

async function namedAdmin(cli: CliContext, flags: Flags) {
  const admin = await createAccountStore(cli.database.db).findUserByEmail(
    required(flags, "admin").trim().toLowerCase(),
  );
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

const options = {
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
      "user-id",
      "seq",
      ...Object.values(limitFlags),
    ].map((flag) => [flag, { type: "string" as const }]),
  ),
  "password-stdin": { type: "boolean" as const },
  full: { type: "boolean" as const },
};

// A command and its flags, or the usage text to print (exit status 2) when the command is unknown
// or a flag is not one of ours.
export function parseCli(argv: string[]): { run: (cli: CliContext) => Promise<void> } | { usage: string } {
  const [name, ...rest] = argv;
  const command = name ? commands[name] : undefined;
  if (!command) return { usage: usage() };
  let values: Flags;
  try {
    values = parseArgs({
      args: rest,
      options,
      strict: true,
    }).values as Flags;
  } catch (error) {
    return { usage: `${error instanceof Error ? error.message : String(error)}\n${usage()}` };
  }
  return { run: (cli) => command.run(cli, values) };
}

// Runs a parsed command; a domain error (bad input, not an admin, not found) is one line on
// stderr and exit status 1, anything else is a bug and propagates.
export async function runCli(run: (cli: CliContext) => Promise<void>, cli: CliContext): Promise<number> {
  try {
    await run(cli);
    return cli.exitCode;
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    cli.err(`error: ${error.message}`);
    return 1;
  }
}
