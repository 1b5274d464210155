// Readiness through real HTTP. /healthz is liveness only. /readyz answers 503 while the database
// is unreachable and 200 again once it is back, and 503 while a migration this code expects is
// not applied. (503 while shutting down: shutdown.test.ts.)
//
// "Unreachable" is real on PostgreSQL: the server runs on a database of its own, which the test
// then closes to connections (ALTER DATABASE … ALLOW_CONNECTIONS false) and empties of them
// (pg_terminate_backend), then reopens. On PGlite (embedded, nothing to cut) it is simulated: the
// server runs on a handle over the test database whose ping fails while the test says so.
import { createDatabase, type DatabaseHandle, rowsOf } from "@credits/db";
import { createTestDatabase, type TestDatabase } from "@credits/db/testing";
import { parseEnv, env as processEnv } from "@credits/env";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { type RunningServer, startServer } from "../src/main.ts";
import { startTestServer, testDb } from "./harness.ts";

const onPostgres = testDb.driver === "postgres";

const readyz = async (server: RunningServer) => {
  const response = await fetch(`${server.url}/readyz`);
  return { status: response.status, body: await response.json() };
};

function serverEnv() {
  return parseEnv({ NODE_ENV: "test", PORT: "0", HOST: "127.0.0.1", PUBLIC_URL: "http://localhost:3000" });
}

describe("/healthz and /readyz", () => {
  it("/healthz is liveness: 200 whatever the database", async () => {
    const server = await startTestServer();
    const response = await fetch(`${server.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
    expect(await readyz(server)).toEqual({ status: 200, body: { status: "ready" } });
  });

  it.runIf(onPostgres)(
    "PostgreSQL: 503 while the database refuses connections, 200 once it accepts them again",
    async () => {
      const serverUrl = processEnv.TEST_DATABASE_URL ?? processEnv.DATABASE_URL;
      const own: TestDatabase = await createTestDatabase(serverUrl);
      const name = new URL(own.url ?? "").pathname.slice(1);
      // The maintenance connection, on the server's default database.
      const admin = createDatabase({ url: serverUrl, poolMax: 1 });
      // Only test-generated identifiers are interpolated.
      const allowConnections = (allowed: boolean) =>
        admin.db.execute(`ALTER DATABASE ${name} ALLOW_CONNECTIONS ${allowed}`);
      const server = await startServer(serverEnv(), { database: own, log: () => {} });
      // Inside a test, cleanup is onTestFinished (an afterAll registered here would never run).
      onTestFinished(async () => {
        await allowConnections(true);
        await server.close();
        await own.close();
        await admin.close();
      });

      expect((await readyz(server)).status).toBe(200);
      await allowConnections(false);
      const terminated = rowsOf<{ pid: number }>(
        await admin.db.execute(
          `SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity WHERE datname = '${name}'`,
        ),
      );
      expect(terminated.length).toBeGreaterThan(0);
      await vi.waitFor(async () => expect((await readyz(server)).status).toBe(503), { timeout: 10_000, interval: 200 });
      expect((await readyz(server)).body).toEqual({ status: "unavailable" });

      await allowConnections(true);
      await vi.waitFor(async () => expect((await readyz(server)).status).toBe(200), { timeout: 10_000, interval: 200 });
    },
  );

  it.runIf(!onPostgres)("PGlite (simulated): 503 while the database does not answer, 200 once it does", async () => {
    let down = false;
    const flaky: DatabaseHandle = {
      ...testDb,
      ping: async () => {
        if (down) throw new Error("connection refused");
        await testDb.ping();
      },
      // The handle is the test file's: the server must not close it.
      close: async () => {},
    };
    const server = await startServer(serverEnv(), { database: flaky, log: () => {} });
    onTestFinished(() => server.close());

    expect((await readyz(server)).status).toBe(200);
    down = true;
    expect(await readyz(server)).toEqual({ status: 503, body: { status: "unavailable" } });
    down = false;
    expect((await readyz(server)).status).toBe(200);
  });

  it("503 while a migration of the journal is not recorded as applied, 200 once it is", async () => {
    const server = await startTestServer();
    expect(await testDb.migrationsApplied()).toBe(true);
    const [last] = rowsOf<{ id: number; hash: string; created_at: string }>(
      await testDb.db.execute(
        "SELECT id, hash, created_at FROM drizzle.__drizzle_migrations ORDER BY created_at DESC LIMIT 1",
      ),
    );
    if (!last) throw new Error("no migration recorded");
    await testDb.db.execute(`DELETE FROM drizzle.__drizzle_migrations WHERE id = ${Number(last.id)}`);
    try {
      expect(await testDb.migrationsApplied()).toBe(false);
      expect(await readyz(server)).toEqual({ status: 503, body: { status: "unavailable" } });
    } finally {
      // Values read back from the table just above (a number, a hex hash, a number).
      await testDb.db.execute(
        `INSERT INTO drizzle.__drizzle_migrations (id, hash, created_at) VALUES (${Number(last.id)}, '${last.hash.replace(/[^0-9a-f]/g, "")}', ${Number(last.created_at)})`,
      );
    }
    expect(await testDb.migrationsApplied()).toBe(true);
    expect((await readyz(server)).status).toBe(200);
  });
});
