import { env } from "@credits/env";
import { afterAll, inject } from "vitest";
import { createTestDatabase } from "../src/testing.ts";

declare module "vitest" {
  export interface ProvidedContext {
    // The unit project's reused workers (vitest.config.ts): one PGlite per worker, reset per file.
    sharedPglite: boolean;
  }
}

// One migrated database per test file: its own PostgreSQL database, or on PGlite the worker's
// instance reset to the migrated image (a new in-memory PGlite where the worker is not reused).
export const testDb = await createTestDatabase(env.TEST_DATABASE_URL ?? env.DATABASE_URL, {
  shared: inject("sharedPglite") === true,
});
afterAll(() => testDb.close());

export const onPostgres = testDb.driver === "postgres";
