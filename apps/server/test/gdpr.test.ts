// GDPR through real HTTP: export, erasure with password re-entry, admin erasure; afterwards the
// email is in no column of any table, log-in is impossible and the books still balance.
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { startTestServer, testDb } from "./harness.ts";

const server = await startTestServer();
const { db } = testDb;
const PASSWORD = "correct horse battery";

async function call(method: string, path: string, { cookie, body }: { cookie?: string; body?: unknown } = {}) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...(cookie ? { cookie } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

const cookieOf = (headers: Headers) => headers.getSetCookie()[0]?.split(";")[0] ?? "";

async function person() {
  const email = `gdpr-${randomUUID()}@example.test`;
  const signup = await call("POST", "/api/v1/auth/signup", { body: { email, password: PASSWORD } });
  expect(signup.status).toBe(201);
  const id: string = signup.body.user.id;
  await server.services.credits.grant({
    scope: { kind: "user", id: "test" },
    userId: id,
    amount: 70,
    idempotencyKey: randomUUID(),
    reason: "gift",
  });
  await server.services.credits.spend({
    scope: { kind: "user", id: "test" },
    userId: id,
    amount: 20,
    idempotencyKey: randomUUID(),
  });
  // A key made while the person was an admin (only admins own keys); its name is kept in the
  // audit log (like reasons: no personal data in it).
  await db.execute(sql`UPDATE users SET role = 'admin' WHERE id = ${id}`);
  await server.services.apiKeys.create({ name: "a person's key", scopes: ["credits:read"], ownerUserId: id });
  await db.execute(sql`UPDATE users SET role = 'user' WHERE id = ${id}`);
  // A failed log-in leaves a rate-limit key with the email in it.
  await call("POST", "/api/v1/auth/login", { body: { email, password: "wrong password" } });
  return { id, email, cookie: cookieOf(signup.headers) };
}

// Every text-like value of every row of every table, searched for the string.
async function tablesContaining(needle: string): Promise<string[]> {
  const tables = (await db.execute(sql`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)) as unknown;
  const names = (Array.isArray(tables) ? tables : (tables as { rows: { tablename: string }[] }).rows).map(
    (row: { tablename: string }) => row.tablename,
  );
  const found: string[] = [];
  for (const name of names) {
    const result = (await db.execute(
      sql`SELECT count(*)::int AS n FROM ${sql.identifier(name)} t WHERE strpos(t::text, ${needle}) > 0`,
    )) as unknown;
    const rows = Array.isArray(result) ? result : (result as { rows: { n: number }[] }).rows;
    if (rows[0].n > 0) found.push(name);
  }
  return found;
}

async function totals() {
  const result = (await db.execute(
    sql`SELECT (SELECT coalesce(sum(credits_balance), 0) FROM users)::bigint AS balances,
               (SELECT coalesce(sum(amount), 0) FROM credit_transactions)::bigint AS ledger,
               (SELECT count(*) FROM credit_transactions)::int AS rows`,
  )) as unknown;
  const [row] = Array.isArray(result) ? result : (result as { rows: unknown[] }).rows;
  return row;
}

describe("export", () => {
  it("gives the signed-in user their data, and no secrets", async () => {
    const me = await person();
    const reply = await call("GET", "/api/v1/gdpr/export", { cookie: me.cookie });
    expect(reply.status).toBe(200);
    expect(reply.body.profile).toMatchObject({ id: me.id, email: me.email, role: "user" });
    expect(reply.body.balance).toBe(50);
    expect(reply.body.ledger.map((t: { kind: string }) => t.kind)).toEqual(["grant", "spend"]);
    expect(reply.body.apiKeys).toHaveLength(1);
    expect(reply.body.sessions.length).toBeGreaterThanOrEqual(1);
    const text = JSON.stringify(reply.body);
    for (const secret of ["password", "hash", "keyHash", "key_hash"]) expect(text).not.toContain(secret);
    expect((await call("GET", "/api/v1/gdpr/export")).status).toBe(401);
  });
});

describe("erasure by the user", () => {
  it("needs the password, then erases everything personal and keeps the books", async () => {
    const me = await person();
    expect(await tablesContaining(me.email)).not.toEqual([]);
    const before = await totals();

    const wrong = await call("POST", "/api/v1/gdpr/delete/confirmation", {
      cookie: me.cookie,
      body: { password: "nope nope" },
    });
    expect(wrong.status).toBe(401);
    const forged = await call("DELETE", `/api/v1/gdpr/delete?confirmationToken=${Date.now() + 60_000}.forged`, {
      cookie: me.cookie,
    });
    expect(forged.status).toBe(400);

    const confirmation = await call("POST", "/api/v1/gdpr/delete/confirmation", {
      cookie: me.cookie,
      body: { password: PASSWORD },
    });
    expect(confirmation.status).toBe(200);
    // Bound to the session that confirmed: another session of the same user cannot use it.
    const other = await call("POST", "/api/v1/auth/login", { body: { email: me.email, password: PASSWORD } });
    const token = encodeURIComponent(confirmation.body.confirmationToken);
    expect(
      (await call("DELETE", `/api/v1/gdpr/delete?confirmationToken=${token}`, { cookie: cookieOf(other.headers) }))
        .status,
    ).toBe(400);

    const erased = await call("DELETE", `/api/v1/gdpr/delete?confirmationToken=${token}`, { cookie: me.cookie });
    expect(erased.status).toBe(200);
    expect(erased.headers.getSetCookie()[0]).toMatch(/Max-Age=0/);

    expect(await tablesContaining(me.email)).toEqual([]);
    expect(await totals()).toEqual(before);
    expect((await call("GET", "/api/v1/me", { cookie: me.cookie })).status).toBe(401);
    expect((await call("GET", "/api/v1/me", { cookie: cookieOf(other.headers) })).status).toBe(401);
    expect((await call("POST", "/api/v1/auth/login", { body: { email: me.email, password: PASSWORD } })).status).toBe(
      401,
    );
    const keys = await server.services.apiKeys.list({ ownerUserId: me.id });
    expect(keys.every((key) => key.revokedAt !== null)).toBe(true);
    const audit = await server.services.admin.auditLog({ targetUserId: me.id, action: "gdpr_erasure" });
    expect(audit).toHaveLength(1);
    // The same email can sign up again as a new person.
    expect((await call("POST", "/api/v1/auth/signup", { body: { email: me.email, password: PASSWORD } })).status).toBe(
      201,
    );
  });
});

describe("erasure by an admin", () => {
  it("is audited and idempotent", async () => {
    const target = await person();
    const adminEmail = `admin-${randomUUID()}@example.test`;
    const admin = await server.services.auth.createUser({ email: adminEmail, password: PASSWORD, role: "admin" });
    const login = await call("POST", "/api/v1/auth/login", { body: { email: adminEmail, password: PASSWORD } });
    const cookie = cookieOf(login.headers);
    const first = await call("POST", `/api/v1/admin/users/${target.id}/erase`, {
      cookie,
      body: { reason: "support ticket 42" },
    });
    expect(first.status).toBe(200);
    expect(first.body.alreadyErased).toBe(false);
    const again = await call("POST", `/api/v1/admin/users/${target.id}/erase`, {
      cookie,
      body: { reason: "support ticket 42" },
    });
    expect(again.body).toEqual({ erasedAt: first.body.erasedAt, alreadyErased: true });
    const audit = await server.services.admin.auditLog({ targetUserId: target.id, action: "gdpr_erasure" });
    expect(audit).toMatchObject([{ actorId: admin.id, reason: "support ticket 42" }]);
    expect(await tablesContaining(target.email)).toEqual([]);
  });
});
