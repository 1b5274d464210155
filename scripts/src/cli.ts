// pnpm cli <command> [--flags]: operator commands that work on either database driver. The
// commands live in cli-commands.ts; this file gives them the process's database, environment and
// standard streams.
import { DataDirInUseError } from "@credits/db";
import { env } from "@credits/env";
import { parseCli, runCli } from "./cli-commands.ts";
import { openDatabase } from "./database.ts";

const parsed = parseCli(process.argv.slice(2));
if ("usage" in parsed) {
  console.error(parsed.usage);
  process.exit(2);
}
const database = await openDatabase().catch((error: unknown) => {
  // The running server holds the embedded database: say so, without a stack trace.
  if (!(error instanceof DataDirInUseError)) throw error;
  console.error(`error: ${error.message}`);
  process.exit(1);
});
try {
  process.exitCode = await runCli(parsed.run, {
    database,
    env,
    out: (line) => console.log(line),
    err: (line) => console.error(line),
    stderr: process.stderr,
    stdin: process.stdin,
    exitCode: 0,
  });
} finally {
  await database.close();
}
