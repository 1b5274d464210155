import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createDatabase, type Database } from "@credits/db";
import { createTestDatabase } from "@credits/db/testing";
import { env } from "@credits/env";
import { afterAll } from "vitest";

// `pnpm cli` as an operator runs it: its own process on its own database (a PostgreSQL test
// database, or a fresh PGlite directory that the test opens only between runs), the local payment
// provider (no Stripe key), stderr not a terminal.

const root = fileURLToPath(new URL("../../", import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cliHarness(name: string, extraEnv: Record<string, string> = {}) {
  const serverUrl = env.TEST_DATABASE_URL ?? env.DATABASE_URL;
  const database = serverUrl ? await createTestDatabase(serverUrl) : null;
  const dataDir = database ? null : mkdtempSync(join(tmpdir(), `credits-cli-${name}-`));
  afterAll(async () => {
    await database?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  // `input` is written to the command's standard input (then closed), e.g. for --password-stdin.
  const cli = (args: string[], input?: string) =>
    new Promise<CliResult>((resolve) => {
      const child = execFile(
        process.execPath,
        ["scripts/src/cli.ts", ...args],
        {
          cwd: root,
          env: {
            PATH: process.env.PATH,
            NODE_ENV: "test",
            ...extraEnv,
            ...(database?.url ? { DATABASE_URL: database.url } : { DATA_DIR: dataDir ?? "" }),
          },
          timeout: 60_000,
        },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
      if (input !== undefined) child.stdin?.end(input);
    });

  // The test's own view of what the CLI wrote (on PGlite, opened after the CLI has exited).
  async function inspect<T>(read: (db: Database) => Promise<T>): Promise<T> {
    if (database) return read(database.db);
    const handle = createDatabase({ dataDir: dataDir ?? "" });
    try {
      return await read(handle.db);
    } finally {
      await handle.close();
    }
  }

  return { cli, inspect };
}
