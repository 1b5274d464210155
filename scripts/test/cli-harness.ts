import { Readable } from "node:stream";
import { seedDefaults } from "@credits/db";
import { createTestDatabase, type TestDatabase } from "@credits/db/testing";
import { env, parseEnv } from "@credits/env";
import { afterAll } from "vitest";
import { parseCli, runCli } from "../src/cli-commands.ts";

// `pnpm cli`'s commands as cli.ts runs them, in this process on the test's own database (seeded
// as the CLI seeds it), with the environment an operator's shell would give (NODE_ENV=test and
// `extraEnv`), the local payment provider (no Stripe key) and a standard input that is not a
// terminal. What needs a real process (exit status, piped stdin, the data directory lock) is
// covered by cli-data-dir-lock.test.ts and embedded-server-lock.test.ts.

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cliHarness(extraEnv: Record<string, string> = {}) {
  const database: TestDatabase = await createTestDatabase(env.TEST_DATABASE_URL ?? env.DATABASE_URL);
  await seedDefaults(database.db);
  afterAll(() => database.close());
  const cliEnv = parseEnv({ NODE_ENV: "test", ...extraEnv });

  // `input` is the command's whole standard input, e.g. for --password-stdin.
  async function cli(args: string[], input?: string): Promise<CliResult> {
    const out: string[] = [];
    const err: string[] = [];
    const parsed = parseCli(args);
    if ("usage" in parsed) return { code: 2, stdout: "", stderr: `${parsed.usage}\n` };
    const code = await runCli(parsed.run, {
      database,
      env: cliEnv,
      out: (line) => out.push(`${line}\n`),
      err: (line) => err.push(`${line}\n`),
      stderr: { write: (chunk: string | Uint8Array) => err.push(String(chunk)) > 0 },
      stdin: Readable.from(input === undefined ? [] : [input]),
      exitCode: 0,
    });
    return { code, stdout: out.join(""), stderr: err.join("") };
  }

  return { cli, inspect: <T>(read: (db: TestDatabase["db"]) => Promise<T>) => read(database.db) };
}
