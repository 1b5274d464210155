import { env } from "@credits/env";
import { afterAll } from "vitest";
import { createTestDatabase } from "../src/testing.ts";

// One migrated database per test file (its own PostgreSQL database, or an in-memory PGlite).
export const testDb = await createTestDatabase(env.TEST_DATABASE_URL ?? env.DATABASE_URL);
afterAll(() => testDb.close());

export const onPostgres = testDb.driver === "postgres";
