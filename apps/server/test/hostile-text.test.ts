// Hostile text through the real server: every free-text input (sign-up name, API key name, reasons,
// the admin user search, emails) refuses NUL, other control characters, lone surrogates,
// bidirectional controls and overlong text with 400 INVALID_INPUT and writes nothing; and a
// database error that does reach the log never carries the failed query's parameters (the new
// password's hash, the new key's hash) or the values in its text.
import { randomUUID } from "node:crypto";
import { adminActions, apiKeys, creditTransactions, users } from "@credits/db/schema";
import { captureLogs } from "@credits/observability";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findLeaks } from "./observability.global-setup.ts";
import { call, db, PASSWORD, signUp, startTestServer } from "./payments/helpers.ts";

const server = await startTestServer();
const logs = captureLogs();
afterAll(() => logs.stop());

// One of each kind of text the schema must refuse.
const HOSTILE: Record<string, string> = {
  NUL: "name\u0000here",
  "bell control": "ring\u0007",
  "lone high surrogate": "half \ud83d pair",
  "lone low surrogate": "\ude00 alone",
  "right-to-left override": "invoice \u202Egnp.exe",
  "first-strong isolate": "\u2068hidden\u2069",
  "right-to-left mark": "abc\u200F",
  "arabic letter mark": "\u061Cxyz",
  "too long": "x".repeat(10_001),
};

let admin: { cookie: string; key: string };
let target: { id: string; cookie: string };

beforeAll(async () => {
  const email = `text-admin-${randomUUID()}@example.test`;
  await server.services.auth.createUser({ email, password: PASSWORD, role: "admin" });
  const login = await call(server.url, "POST", "/api/v1/auth/login", { body: { email, password: PASSWORD } });
  const cookie = login.headers.getSetCookie()[0]?.split(";")[0] ?? "";
  const created = await call(server.url, "POST", "/api/v1/admin/api-keys", {
    cookie,
    body: { name: "hostile text", scopes: ["credits:grant", "credits:spend", "credits:read"] },
  });
  expect(created.body).toMatchObject({ key: expect.any(String) });
  admin = { cookie, key: created.body.key };
  target = await signUp(server.url, "text-target");
});

async function counts() {
  const [people, keys, ledger, audit] = await Promise.all([
    db.$count(users),
    db.$count(apiKeys),
    db.$count(creditTransactions),
    db.$count(adminActions),
  ]);
  return { people, keys, ledger, audit };
}

function expectInvalid(reply: { status: number; body: unknown }) {
  expect(reply.status).toBe(400);
  expect(reply.body).toMatchObject({ error: { code: "INVALID_INPUT", message: expect.any(String) } });
}

describe.each(Object.entries(HOSTILE))("%s is refused with 400 and changes nothing", (_kind, text) => {
  it("in the sign-up name", async () => {
    const before = await counts();
    const email = `hostile-${randomUUID()}@example.test`;
    const reply = await call(server.url, "POST", "/api/v1/auth/signup", {
      body: { email, password: PASSWORD, name: text },
    });
    expectInvalid(reply);
    expect(await counts()).toEqual(before);
  });

  it("in an API key name", async () => {
    const before = await counts();
    const reply = await call(server.url, "POST", "/api/v1/admin/api-keys", {
      cookie: admin.cookie,
      body: { name: text, scopes: ["credits:read"] },
    });
    expectInvalid(reply);
    expect(await counts()).toEqual(before);
  });

  it("in an adjustment reason, a grant reason and a spend reason", async () => {
    const before = await counts();
    const change = { userId: target.id, amount: 1, idempotencyKey: randomUUID(), reason: text };
    expectInvalid(await call(server.url, "POST", "/api/v1/admin/adjust", { cookie: admin.cookie, body: change }));
    expectInvalid(await call(server.url, "POST", "/api/v1/credits/grant", { key: admin.key, body: change }));
    expectInvalid(await call(server.url, "POST", "/api/v1/credits/spend", { key: admin.key, body: change }));
    expect(await counts()).toEqual(before);
  });

  it("in the admin user search (REST and tRPC)", async () => {
    // A query string cannot carry a lone surrogate (URL encoding is UTF-8): tRPC's JSON input can.
    if (text.isWellFormed()) {
      const query = new URLSearchParams({ query: text }).toString();
      expectInvalid(await call(server.url, "GET", `/api/v1/admin/users?${query}`, { cookie: admin.cookie }));
    }
    const input = encodeURIComponent(JSON.stringify({ query: text }));
    const reply = await call(server.url, "GET", `/trpc/admin.users?input=${input}`, { cookie: admin.cookie });
    expect(reply.status).toBe(400);
    expect(reply.body.error.data).toMatchObject({ appCode: "INVALID_INPUT", httpStatus: 400 });
  });

  it("in the email of a sign-up and a log-in", async () => {
    const before = await counts();
    const email = `${text}@example.test`;
    expectInvalid(await call(server.url, "POST", "/api/v1/auth/signup", { body: { email, password: PASSWORD } }));
    expectInvalid(await call(server.url, "POST", "/api/v1/auth/login", { body: { email, password: PASSWORD } }));
    expect(await counts()).toEqual(before);
  });
});

describe("ordinary text still goes through", () => {
  it("accents, CJK, emoji (surrogate pairs), and a multi-line reason", async () => {
    const email = `plain-${randomUUID()}@example.test`;
    const name = "Zoë 山田 👩🏽‍💻 O'Brien-Smith";
    const signed = await call(server.url, "POST", "/api/v1/auth/signup", { body: { email, password: PASSWORD, name } });
    expect(signed.status).toBe(201);
    expect(signed.body.user.name).toBe(name);
    const key = await call(server.url, "POST", "/api/v1/admin/api-keys", {
      cookie: admin.cookie,
      body: { name: "billing — nightly 🌙", scopes: ["credits:read"] },
    });
    expect(key.status).toBe(200);
    const adjusted = await call(server.url, "POST", "/api/v1/admin/adjust", {
      cookie: admin.cookie,
      body: { userId: target.id, amount: 2, idempotencyKey: randomUUID(), reason: "goodwill\r\n\tticket #4521" },
    });
    expect(adjusted.status).toBe(200);
    const search = await call(server.url, "GET", `/api/v1/admin/users?query=${encodeURIComponent("山田")}`, {
      cookie: admin.cookie,
    });
    expect(search.status).toBe(200);
  });
});

// A database error nothing validates away: a trigger makes the insert itself fail, the way a
// constraint added later or a driver bug would.
describe("a failing insert is logged without its parameters", () => {
  beforeAll(async () => {
    await db.execute(sql`
      CREATE FUNCTION refuse_marked_rows() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.name = 'refuse-me' THEN RAISE EXCEPTION 'refused by a test trigger'; END IF;
        RETURN NEW;
      END $$`);
    await db.execute(sql`CREATE TRIGGER refuse_marked_users BEFORE INSERT ON users
      FOR EACH ROW EXECUTE FUNCTION refuse_marked_rows()`);
    await db.execute(sql`CREATE TRIGGER refuse_marked_keys BEFORE INSERT ON api_keys
      FOR EACH ROW EXECUTE FUNCTION refuse_marked_rows()`);
  });

  function errorLinesSince(start: number): string[] {
    return logs.lines.slice(start).filter((line) => line.includes('"unhandled error"'));
  }

  function expectNoQueryValues(lines: string[]) {
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line).not.toMatch(/scrypt\$\d|\$argon2|params: (?!\[redacted\])|"parameters"/);
      // A SHA-256 in hex (the key hash); pnpm's patch hashes in the stack's file paths are not one.
      expect(line).not.toMatch(/(?<![\w-])(?<!patch_hash=)[0-9a-f]{64}(?![\w-])/);
      expect(line).not.toContain("refuse-me");
    }
    expect(findLeaks(lines)).toEqual([]);
  }

  it("a sign-up: no password hash, email or name in the log", async () => {
    const start = logs.lines.length;
    const reply = await call(server.url, "POST", "/api/v1/auth/signup", {
      body: { email: `refused-${randomUUID()}@example.test`, password: PASSWORD, name: "refuse-me" },
    });
    expect(reply.status).toBe(500);
    expect(reply.body).toEqual({
      error: { code: "INTERNAL", message: expect.any(String), requestId: expect.any(String) },
    });
    expectNoQueryValues(errorLinesSince(start));
  });

  it("an API key: no key hash in the log", async () => {
    const start = logs.lines.length;
    const reply = await call(server.url, "POST", "/api/v1/admin/api-keys", {
      cookie: admin.cookie,
      body: { name: "refuse-me", scopes: ["credits:read"] },
    });
    expect(reply.status).toBe(500);
    expectNoQueryValues(errorLinesSince(start));
  });

  it("the log still says what failed: the database's own message and SQLSTATE", async () => {
    const start = logs.lines.length;
    await call(server.url, "POST", "/api/v1/auth/signup", {
      body: { email: `refused-${randomUUID()}@example.test`, password: PASSWORD, name: "refuse-me" },
    });
    const text = errorLinesSince(start).join("\n");
    expect(text).toContain("refused by a test trigger");
    expect(text).toContain("P0001");
  });
});
