import { testDb } from "@credits/db/test-setup";
import { parseEnv } from "@credits/env";
import { type RunningServer, startServer } from "../src/main.ts";
import { closeAfterFile } from "./open-servers.ts";

// The real server over real HTTP, on a free port, on this test file's own database.
export async function startTestServer(overrides: Record<string, string> = {}): Promise<RunningServer> {
  const env = parseEnv({
    NODE_ENV: "test",
    PORT: "0",
    HOST: "127.0.0.1",
    PUBLIC_URL: "http://localhost:3000",
    AUTH_RATE_LIMIT_PER_MINUTE: "1000",
    CHECKOUT_RATE_LIMIT_PER_MINUTE: "1000",
    ...overrides,
  });
  const server = await startServer(env, { database: testDb, log: () => {} });
  closeAfterFile(() => server.close());
  return server;
}

export { closeAfterFile, testDb };
