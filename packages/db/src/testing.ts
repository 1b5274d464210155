import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { createDatabase, type DatabaseHandle } from "./client.ts";

export interface TestDatabase extends DatabaseHandle {
  // The connection string of this test's own database; undefined on PGlite.
  url: string | undefined;
}

// A fresh, migrated database for one test file: a new database on the PostgreSQL server at
// `serverUrl` (dropped again on close), or an in-memory PGlite when there is none.
export async function createTestDatabase(serverUrl: string | undefined): Promise<TestDatabase> {
  if (!serverUrl) {
    const handle = createDatabase({ dataDir: "memory://" });
    await handle.migrate();
    return { ...handle, url: undefined };
  }
  const name = `credits_test_${randomBytes(6).toString("hex")}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = withDatabase(serverUrl, name);
  const handle = createDatabase({ url, poolMax: 40 });
  await handle.migrate();
  return {
    ...handle,
    url,
    async close() {
      await handle.close();
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

export function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
