// Shared by the account, session and API key store tests (auth.test.ts, api-keys.test.ts): a clock
// the tests move (back at `start` before each test), the services on this file's database, and a look
// into the stored rows.
import { randomUUID } from "node:crypto";
import { type Clock, createApiKeyService, createAuthService } from "@credits/core";
import { sql } from "drizzle-orm";
import { beforeEach } from "vitest";
import { createAccountStore, createApiKeyStore, createSessionStore } from "../src/auth-stores.ts";
import { rowsOf } from "../src/client.ts";
import { testDb } from "./setup.ts";

export const { db } = testDb;
export const DAY_MS = 24 * 60 * 60 * 1000;
export const start = new Date("2026-03-01T00:00:00Z");
export let now = start;
export const clock: Clock = { now: () => now };
// Tests set the time with setNow() (an import cannot be assigned) and move it with advance().
export const setNow = (date: Date) => {
  now = date;
};
export const advance = (ms: number) => {
  now = new Date(now.getTime() + ms);
};
beforeEach(() => {
  now = start;
});

export const auth = createAuthService({ accounts: createAccountStore(db), sessions: createSessionStore(db), clock });
export const keys = createApiKeyService({ store: createApiKeyStore(db), clock });
export const email = () => `user-${randomUUID()}@example.test`;
export const password = "correct horse battery";

// True when any column of any row of `table` contains `secret`.
export async function tableContains(table: "sessions" | "api_keys", secret: string): Promise<boolean> {
  const result = await db.execute(
    sql`SELECT count(*)::int AS n FROM ${sql.identifier(table)} t WHERE t::text LIKE ${`%${secret}%`}`,
  );
  return (rowsOf<{ n: number }>(result)[0]?.n ?? 0) > 0;
}
