// The real API server (startServer: the same Hono app, router, services and database code as
// `pnpm start`) without the web app, for the benchmark. Configuration comes from the environment.
import { env } from "@credits/env";
import { startServer } from "@credits/server/main";

const running = await startServer(env, { log: () => {} });
process.stdout.write(`READY ${running.url}\n`);
process.once("SIGTERM", () => {
  running.close().then(() => process.exit(0));
});
