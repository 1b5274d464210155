// Shared by the REST contract tests (rest-contract-*.test.ts): a server on this file's database,
// one HTTP call, and the users and keys the tests act as.
import { randomUUID } from "node:crypto";
import { createAuthService } from "@credits/core";
import { createAccountStore, createSessionStore } from "@credits/db";
import { creditTransactions, users } from "@credits/db/schema";
import { beforeAll, expect } from "vitest";
import { startTestServer, testDb } from "./harness.ts";
import { type CallOptions as HttpCallOptions, call as httpCall, type Reply } from "./http-call.ts";

export const { db } = testDb;
export const server = await startTestServer();

export const PASSWORD = "correct horse battery";
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export type { Reply } from "./http-call.ts";
export type CallOptions = HttpCallOptions & { base?: string };

// One request to the test server (or `base`); the API's answers must be JSON or empty.
export function call(method: string, path: string, options: CallOptions = {}): Promise<Reply> {
  return httpCall(options.base ?? server.url, method, path, options, { strictJson: true });
}

export function sessionCookie(reply: Reply): string {
  const cookies = reply.headers.getSetCookie();
  expect(cookies).toHaveLength(1);
  const pair = cookies[0]?.split(";")[0] ?? "";
  expect(pair).toMatch(/^session=[a-z2-7]{32}$/);
  return pair;
}

export const email = (label: string) => `${label}-${randomUUID()}@example.test`;

export async function signUp(label = "user"): Promise<{ id: string; email: string; cookie: string }> {
  const address = email(label);
  const reply = await call("POST", "/api/v1/auth/signup", { body: { email: address, password: PASSWORD } });
  expect(reply.status).toBe(201);
  return { id: reply.body.user.id, email: address, cookie: sessionCookie(reply) };
}

export async function createKey(adminCookie: string, scopes: string[]): Promise<string> {
  const reply = await call("POST", "/api/v1/admin/api-keys", { cookie: adminCookie, body: { name: "test", scopes } });
  expect(reply.status).toBe(200);
  return reply.body.key;
}

export const ledgerRows = () => db.$count(creditTransactions);
export const userCount = () => db.$count(users);
export async function balanceOf(userId: string): Promise<number> {
  const row = (await db.select({ id: users.id, balance: users.creditsBalance }).from(users)).find(
    (r) => r.id === userId,
  );
  if (!row) throw new Error(`no user ${userId}`);
  return row.balance;
}

// Assigned before the file's tests by provisionAdminKeys().
export let adminCookie: string;
export let fullKey: string;
export let readKey: string;

// A signed-in admin and two keys of theirs (every scope; read only), for the files that act through them.
export function provisionAdminKeys(): void {
  beforeAll(async () => {
    const auth = createAuthService({ accounts: createAccountStore(db), sessions: createSessionStore(db) });
    const adminEmail = email("admin");
    await auth.createUser({ email: adminEmail, password: PASSWORD, role: "admin" });
    const login = await call("POST", "/api/v1/auth/login", { body: { email: adminEmail, password: PASSWORD } });
    expect(login.status).toBe(200);
    adminCookie = sessionCookie(login);
    fullKey = await createKey(adminCookie, ["credits:read", "credits:spend", "credits:grant"]);
    readKey = await createKey(adminCookie, ["credits:read"]);
  });
}

// Applied, not only accepted: a grant past the approval threshold (alone or with the user's other
// grants within the window) is a 200 too, a pending request that funds nothing.
export async function fund(userId: string, amount: number): Promise<void> {
  const reply = await call("POST", "/api/v1/credits/grant", {
    key: fullKey,
    body: { userId, amount, idempotencyKey: randomUUID(), reason: "funding" },
  });
  expect(reply.status).toBe(200);
  expect(reply.body).toEqual({ transactionId: expect.any(String), balance: expect.any(Number) });
}
