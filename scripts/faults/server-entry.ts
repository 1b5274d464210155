// One server process for the fault tests: the real startServer on its own database URL, no web
// app. Prints "READY <url>" once listening; SIGTERM closes it gracefully.
import { parseEnv } from "@credits/env";
import { startServer } from "@credits/server/main";

// Report what an unhandled rejection was about (a PostgresError names its query), then crash as
// Node would: the fault tests must see a crash.
process.on("unhandledRejection", (reason, promise) => {
  const query = (reason as { query?: unknown } | null)?.query;
  const strings = (promise as { strings?: unknown }).strings;
  process.stderr.write(
    `unhandled rejection: ${String(reason)}${query ? ` (query: ${String(query)})` : ""} from a ${promise?.constructor?.name ?? "?"}${strings ? ` ${JSON.stringify(strings)}` : ""}\n`,
  );
  process.exit(70);
});

const env = parseEnv(process.env);
const running = await startServer(env, { web: null, log: () => {} });
process.stdout.write(`READY ${running.url}\n`);
process.once("SIGTERM", () => {
  running.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
