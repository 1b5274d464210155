// One server process for the fault tests: the real startServer on its own database URL, no web
// app. Prints "READY <url>" once listening; SIGTERM closes it gracefully.
import { parseEnv } from "@credits/env";
import { startServer } from "../../apps/server/src/main.ts";

const env = parseEnv(process.env);
const running = await startServer(env, { web: null, log: () => {} });
process.stdout.write(`READY ${running.url}\n`);
process.once("SIGTERM", () => {
  running.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
