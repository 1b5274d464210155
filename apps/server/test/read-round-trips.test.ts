// Issue 17: the reads a product makes most cost one database round trip each. The real server over
// real HTTP, on a database handle whose driver records every statement it sends; each read is
// called a few times and the fewest statements any one call sent is what counts (a background
// sweep landing inside one call cannot make it pass or fail). A new statement on one of these
// paths (a second balance read, a grants read, a lookup per request) fails here. By session, the
// session lookup is part of the read's one statement.
import { randomUUID } from "node:crypto";
import { sessionIdOf } from "@credits/core";
import { recordingDatabase } from "@credits/db/testing";
import { parseEnv } from "@credits/env";
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { startServer } from "../src/main.ts";
import { testDb } from "./harness.ts";

const statements: string[] = [];
const database = recordingDatabase(testDb, (query) => statements.push(query.replace(/\s+/g, " ").trim()));

const server = await startServer(
  parseEnv({ NODE_ENV: "test", PORT: "0", HOST: "127.0.0.1", PUBLIC_URL: "http://localhost:3000" }),
  { database, log: () => {} },
);
afterAll(async () => {
  await server.close();
  await database.closeRecorder();
});

const PASSWORD = "correct horse battery";
const email = () => `reads-${randomUUID()}@example.test`;
const admin = await server.services.auth.createUser({ email: email(), password: PASSWORD, role: "admin" });
const { key } = await server.services.apiKeys.create({
  name: "reads",
  scopes: ["credits:read"],
  ownerUserId: admin.id,
});
const reader = await server.services.auth.signUp({ email: email(), password: PASSWORD });
const userId = reader.user.id;
await server.services.credits.grant({
  scope: { kind: "user", id: "round-trips" },
  userId,
  amount: 50,
  idempotencyKey: randomUUID(),
  terms: { expiresAt: new Date(Date.now() + 86_400_000) },
});
await server.services.credits.grant({
  scope: { kind: "user", id: "round-trips" },
  userId,
  amount: 7,
  idempotencyKey: randomUUID(),
});

const byKey = { authorization: `Bearer ${key}` };
const bySession = { cookie: `session=${reader.token}` };

// The fewest statements one call of `path` sent, over a few calls (after one that warms caches).
async function fewestStatements(path: string, headers: Record<string, string>) {
  const counts: number[] = [];
  let seen: string[] = [];
  for (let call = 0; call < 4; call += 1) {
    statements.length = 0;
    const response = await fetch(`${server.url}${path}`, { headers });
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(200);
    if (call > 0) counts.push(statements.length);
    if (call === 1) seen = [...statements];
  }
  return { fewest: Math.min(...counts), seen };
}

describe("round trips of the reads", () => {
  it.each([
    ["GET /api/v1/users/{id}/credits, API key", `/api/v1/users/${userId}/credits`, byKey, 1],
    ["GET /api/v1/users/{id}/balance, API key", `/api/v1/users/${userId}/balance`, byKey, 1],
    ["tRPC credits.ofUser, API key", trpcPath("credits.ofUser", { userId }), byKey, 1],
    ["tRPC credits.balanceOfUser, API key", trpcPath("credits.balanceOfUser", { userId }), byKey, 1],
    ["GET /api/v1/me/credits, session", "/api/v1/me/credits", bySession, 1],
    ["GET /api/v1/me/balance, session", "/api/v1/me/balance", bySession, 1],
    ["tRPC credits.mine, session", trpcPath("credits.mine", {}), bySession, 1],
    ["tRPC credits.myBalance, session", trpcPath("credits.myBalance", undefined), bySession, 1],
  ] as const)("%s", async (_name, path, headers, expected) => {
    const { fewest, seen } = await fewestStatements(path, headers);
    expect(fewest, seen.join("\n")).toBe(expected);
    expect(seen.filter((s) => /^(BEGIN|COMMIT)/i.test(s))).toEqual([]);
  });

  it("the answers carry the balance, the grants and the next expiry", async () => {
    const response = await fetch(`${server.url}/api/v1/users/${userId}/credits`, { headers: byKey });
    const credits = (await response.json()) as { nextExpiry: unknown; grants: unknown[]; transactions: unknown[] };
    expect(credits).toMatchObject({ balance: 57, nextExpiry: { amount: 50 } });
    expect(credits.grants).toHaveLength(2);
    expect(credits.transactions).toHaveLength(2);
    const balance = await (await fetch(`${server.url}/api/v1/me/balance`, { headers: bySession })).json();
    expect(balance).toEqual({ balance: 57, nextExpiry: credits.nextExpiry });
  });
});

describe("a session read refuses what the session lookup refused", () => {
  it.each([["/api/v1/me/balance"], ["/api/v1/me/credits"]])(
    "%s: an unknown, an expired or a logged-out session is a 401 without the balance",
    async (path) => {
      const other = await server.services.auth.signUp({ email: email(), password: PASSWORD });
      await server.services.credits.grant({
        scope: { kind: "user", id: "round-trips" },
        userId: other.user.id,
        amount: 5,
        idempotencyKey: randomUUID(),
      });
      const live = await fetch(`${server.url}${path}`, { headers: { cookie: `session=${other.token}` } });
      expect(((await live.json()) as { balance: number }).balance).toBe(5);
      const expired = await server.services.auth.signUp({ email: email(), password: PASSWORD });
      await expireSession(expired.token);
      await server.services.auth.logOut(other.token);
      for (const token of [other.token, expired.token, "a".repeat(32)]) {
        const response = await fetch(`${server.url}${path}`, { headers: { cookie: `session=${token}` } });
        const text = await response.text();
        expect(response.status, text).toBe(401);
        expect(text).not.toContain("balance");
        expect(response.headers.get("set-cookie") ?? "").toMatch(/^session=;/);
      }
    },
  );
});

async function expireSession(token: string) {
  await testDb.db.execute(
    sql`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = ${sessionIdOf(token)}`,
  );
}

function trpcPath(procedure: string, input: Record<string, unknown> | undefined) {
  return input === undefined
    ? `/trpc/${procedure}`
    : `/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify(input))}`;
}
