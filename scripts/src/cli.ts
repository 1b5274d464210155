// pnpm cli <command> [--flags]: operator commands that work on either database driver.
import { parseArgs } from "node:util";
import { createServices } from "@credits/api";
import { apiKeyScopes, DomainError, isApiKeyScope } from "@credits/core";
import { createAccountStore, type DatabaseHandle } from "@credits/db";
import { env } from "@credits/env";
import { paymentProviderFromEnv } from "@credits/stripe";
import { openDatabase } from "./database.ts";

type Flags = Record<string, string | undefined>;

const commands: Record<string, { usage: string; run: (database: DatabaseHandle, flags: Flags) => Promise<void> }> = {
  "users:create": {
    usage: "--email EMAIL --password PASSWORD [--name NAME] [--role user|admin]",
    async run(database, flags) {
      const role = flags.role ?? "user";
      if (role !== "user" && role !== "admin") throw new DomainError("INVALID_INPUT", "--role must be user or admin");
      const user = await services(database).auth.createUser({
        email: required(flags, "email"),
        password: required(flags, "password"),
        name: flags.name ?? null,
        role,
      });
      console.log(`created ${user.role} ${user.id}`);
    },
  },
  "users:grant": {
    usage: "--email EMAIL --amount N --reason TEXT [--idempotency-key KEY]",
    async run(database, flags) {
      const email = required(flags, "email").trim().toLowerCase();
      const user = await createAccountStore(database.db).findUserByEmail(email);
      if (!user) throw new DomainError("NOT_FOUND", "no user with that email");
      const result = await services(database).credits.grant({
        userId: user.id,
        amount: Number(required(flags, "amount")),
        reason: required(flags, "reason"),
        // A retried command with the same key grants once.
        idempotencyKey: flags["idempotency-key"] ?? `cli-grant-${crypto.randomUUID()}`,
      });
      console.log(`granted; balance ${result.balance} (transaction ${result.transactionId})`);
    },
  },
  "api-keys:create": {
    usage: `--name NAME --scopes ${apiKeyScopes.join(",")}`,
    async run(database, flags) {
      const scopes = required(flags, "scopes")
        .split(",")
        .map((s) => s.trim());
      const unknown = scopes.filter((s) => !isApiKeyScope(s));
      if (unknown.length) throw new DomainError("INVALID_INPUT", `unknown scopes: ${unknown.join(", ")}`);
      const created = await services(database).apiKeys.create({
        name: required(flags, "name"),
        scopes: scopes.filter(isApiKeyScope),
      });
      console.log(`API key ${created.id} (${created.scopes.join(", ")})`);
      console.log("The key is shown once; store it now:");
      console.log(created.key);
    },
  },
  "api-keys:revoke": {
    usage: "--id KEY_ID",
    async run(database, flags) {
      const revoked = await services(database).apiKeys.revoke(required(flags, "id"));
      console.log(`revoked ${revoked.id}`);
    },
  },
};

function services(database: DatabaseHandle) {
  return createServices(database.db, {
    authAttemptsPerMinute: env.AUTH_RATE_LIMIT_PER_MINUTE,
    provider: paymentProviderFromEnv(env).provider,
    publicUrl: env.PUBLIC_URL,
  });
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
  options: Object.fromEntries(
    ["email", "password", "name", "role", "amount", "reason", "idempotency-key", "scopes", "id"].map((flag) => [
      flag,
      { type: "string" as const },
    ]),
  ),
  strict: true,
});
const database = await openDatabase();
try {
  await command.run(database, values as Flags);
} catch (error) {
  if (!(error instanceof DomainError)) throw error;
  console.error(`error: ${error.message}`);
  process.exitCode = 1;
} finally {
  await database.close();
}
