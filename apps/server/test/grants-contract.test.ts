// The grant fields of the REST contract through real HTTP: terms on credits/grant and admin/adjust
// (hostile values refused with 400 and nothing written), terms as part of a request's identity
// (409), and approvals that apply exactly the terms a request was filed with.
import { randomUUID } from "node:crypto";
import { creditTransactions, users } from "@credits/db/schema";
import { beforeAll, describe, expect, it } from "vitest";
import { startTestServer, testDb } from "./harness.ts";

const { db } = testDb;
const THRESHOLD = 100;
const server = await startTestServer({ ADMIN_APPROVAL_THRESHOLD: String(THRESHOLD) });
const PASSWORD = "correct horse battery";

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON, asserted field by field
type Body = any;

async function call(method: string, path: string, options: { body?: unknown; cookie?: string; key?: string } = {}) {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (options.cookie) headers.cookie = options.cookie;
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const response = await fetch(`${server.url}${path}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, body: (text === "" ? null : JSON.parse(text)) as Body };
}

async function admin(): Promise<{ id: string; cookie: string }> {
  const email = `admin-${randomUUID()}@example.test`;
  const user = await server.services.auth.createUser({ email, password: PASSWORD, role: "admin" });
  const login = await fetch(`${server.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(login.status).toBe(200);
  return { id: user.id, cookie: login.headers.getSetCookie()[0]?.split(";")[0] ?? "" };
}

// A user straight in the table: these tests need beneficiaries, not log-ins.
async function newUser(): Promise<string> {
  const [row] = await db
    .insert(users)
    .values({ email: `user-${randomUUID()}@example.test` })
    .returning({ id: users.id });
  if (!row) throw new Error("user not inserted");
  return row.id;
}

let first: { id: string; cookie: string };
let second: { id: string; cookie: string };
let key: string;

beforeAll(async () => {
  first = await admin();
  second = await admin();
  const created = await call("POST", "/api/v1/admin/api-keys", {
    cookie: first.cookie,
    body: { name: "grants", scopes: ["credits:read", "credits:grant"] },
  });
  key = created.body.key;
});

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
const ledgerRows = () => db.$count(creditTransactions);

const hostile: [string, Record<string, unknown>][] = [
  ["an unknown category", { category: "gold" }],
  ["a category in capitals", { category: "PAID" }],
  ["a category with a NUL", { category: "paid\u0000" }],
  ["a numeric category", { category: 1 }],
  ["a negative priority", { priority: -1 }],
  ["a priority above 100", { priority: 101 }],
  ["a fractional priority", { priority: 2.5 }],
  ["a huge priority", { priority: 1e308 }],
  ["a string priority", { priority: "1" }],
  ["a null priority", { priority: null }],
  ["a date in the past", { expiresAt: "2020-01-01T00:00:00Z" }],
  ["a date without a time", { expiresAt: "2030-01-01" }],
  ["a date without a zone", { expiresAt: "2030-01-01T00:00:00" }],
  ["a date that does not exist", { expiresAt: "2030-02-30T00:00:00Z" }],
  ["a date absurdly far", { expiresAt: "9999-12-31T23:59:59Z" }],
  ["a date with a control character", { expiresAt: "2030-01-01T00:00:00Z\u0007" }],
  ["a number for a date", { expiresAt: 1_900_000_000_000 }],
  ["not a date", { expiresAt: "NaN" }],
];

describe("hostile grant terms", () => {
  it.each(hostile)("POST /credits/grant refuses %s with 400 INVALID_INPUT, writing nothing", async (_, terms) => {
    const userId = await newUser();
    const rows = await ledgerRows();
    const reply = await call("POST", "/api/v1/credits/grant", {
      key,
      body: { userId, amount: 5, idempotencyKey: randomUUID(), ...terms },
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(400);
    expect(reply.body.error.code).toBe("INVALID_INPUT");
    expect(await ledgerRows()).toBe(rows);
  });

  it.each(hostile)("POST /admin/adjust refuses %s with 400 INVALID_INPUT, writing nothing", async (_, terms) => {
    const userId = await newUser();
    const rows = await ledgerRows();
    const reply = await call("POST", "/api/v1/admin/adjust", {
      cookie: first.cookie,
      body: { userId, amount: 5, reason: "hostile", idempotencyKey: randomUUID(), ...terms },
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(400);
    expect(reply.body.error.code).toBe("INVALID_INPUT");
    expect(await ledgerRows()).toBe(rows);
  });

  it("a debit with terms is a 400: terms only make sense for a credit", async () => {
    const userId = await newUser();
    await call("POST", "/api/v1/admin/adjust", {
      cookie: first.cookie,
      body: { userId, amount: 10, reason: "funding", idempotencyKey: randomUUID() },
    });
    const reply = await call("POST", "/api/v1/admin/adjust", {
      cookie: first.cookie,
      body: { userId, amount: -5, reason: "debit", idempotencyKey: randomUUID(), category: "promotional" },
    });
    expect(reply.status).toBe(400);
    expect(reply.body.error.code).toBe("INVALID_INPUT");
  });
});

describe("terms are part of a request's identity", () => {
  it("a grant applied, retried with other terms: 409; with the same terms: the same answer", async () => {
    const userId = await newUser();
    const body = { userId, amount: 5, idempotencyKey: randomUUID(), category: "promotional", expiresAt: inDays(14) };
    const applied = await call("POST", "/api/v1/credits/grant", { key, body });
    expect(applied.status).toBe(200);
    expect((await call("POST", "/api/v1/credits/grant", { key, body })).body).toEqual(applied.body);
    for (const other of [{ priority: 10 }, { expiresAt: inDays(15) }, { category: "paid" }, { expiresAt: undefined }]) {
      const reply = await call("POST", "/api/v1/credits/grant", { key, body: { ...body, ...other } });
      expect(reply.status, JSON.stringify(other)).toBe(409);
    }
  });

  it("an adjustment applied, and a pending request, retried with other terms: 409", async () => {
    const userId = await newUser();
    for (const amount of [5, THRESHOLD + 1]) {
      const body = { userId, amount, reason: "terms", idempotencyKey: randomUUID(), priority: 20 };
      const done = await call("POST", "/api/v1/admin/adjust", { cookie: first.cookie, body });
      expect(done.status).toBe(200);
      expect((await call("POST", "/api/v1/admin/adjust", { cookie: first.cookie, body })).body).toEqual(done.body);
      const other = await call("POST", "/api/v1/admin/adjust", {
        cookie: first.cookie,
        body: { ...body, priority: 21 },
      });
      expect(other.status).toBe(409);
    }
  });
});

describe("approvals apply the terms they were filed with", () => {
  it("an adjustment above the threshold keeps its terms and the approval applies exactly them", async () => {
    const userId = await newUser();
    const expiresAt = inDays(30);
    const filed = await call("POST", "/api/v1/admin/adjust", {
      cookie: first.cookie,
      body: {
        userId,
        amount: THRESHOLD + 1,
        reason: "bonus",
        idempotencyKey: randomUUID(),
        category: "promotional",
        priority: 5,
        expiresAt,
      },
    });
    expect(filed.body.status).toBe("pending");
    const request = filed.body.adjustmentRequest;
    expect(request.grant).toEqual({
      category: "promotional",
      priority: 5,
      expiresAt: new Date(expiresAt).toISOString(),
    });
    const approved = await call("POST", `/api/v1/admin/adjustments/${request.id}/approve`, { cookie: second.cookie });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    const credits = await call("GET", `/api/v1/users/${userId}/credits`, { key });
    expect(credits.body.grants).toEqual([
      expect.objectContaining({
        category: "promotional",
        priority: 5,
        remaining: THRESHOLD + 1,
        expiresAt: new Date(expiresAt).toISOString(),
      }),
    ]);
  });

  it("a key's grant filed for approval keeps a grant's terms (promotional by default)", async () => {
    const reply = await call("POST", "/api/v1/credits/grant", {
      key,
      body: { userId: first.id, amount: 3, idempotencyKey: randomUUID() },
    });
    expect(reply.body.status).toBe("pending");
    const approved = await call("POST", `/api/v1/admin/adjustments/${reply.body.adjustmentRequestId}/approve`, {
      cookie: second.cookie,
    });
    expect(approved.status).toBe(200);
    const credits = await call("GET", `/api/v1/users/${first.id}/credits`, { key });
    expect(credits.body.grants).toContainEqual(
      expect.objectContaining({ category: "promotional", priority: 50, remaining: 3 }),
    );
  });

  it("an expiry passed by approval time: the approval fails with 409 and grants nothing", async () => {
    const userId = await newUser();
    const filed = await call("POST", "/api/v1/admin/adjust", {
      cookie: first.cookie,
      body: {
        userId,
        amount: THRESHOLD + 1,
        reason: "short-lived",
        idempotencyKey: randomUUID(),
        expiresAt: new Date(Date.now() + 1_000).toISOString(),
      },
    });
    expect(filed.body.status).toBe("pending");
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const rows = await ledgerRows();
    const approved = await call("POST", `/api/v1/admin/adjustments/${filed.body.adjustmentRequest.id}/approve`, {
      cookie: second.cookie,
    });
    expect(approved.status).toBe(409);
    expect(approved.body.error).toEqual({ code: "INVALID_STATE", message: expect.stringMatching(/expired/) });
    expect(await ledgerRows()).toBe(rows);
  });
});

// review9 F5: a retry of a filed request answered `pending` after it was decided.
describe("a retry of a filed request answers its decision", () => {
  const filings = {
    "/admin/adjust": (userId: string) => ({
      cookie: first.cookie,
      body: { userId, amount: THRESHOLD + 1, reason: "decided", idempotencyKey: randomUUID() },
    }),
    "/credits/grant": (userId: string) => ({
      key,
      body: { userId, amount: THRESHOLD + 1, idempotencyKey: randomUUID() },
    }),
  };
  const requestIdOf = (body: Body): string => body.adjustmentRequest?.id ?? body.adjustmentRequestId;

  for (const [path, filing] of Object.entries(filings)) {
    it(`${path}: approved, the applied transaction; rejected, a 409 saying so`, async () => {
      const [approvedUser, rejectedUser] = [await newUser(), await newUser()];
      const toApprove = filing(approvedUser);
      const filed = await call("POST", `/api/v1${path}`, toApprove);
      expect(filed.body.status).toBe("pending");
      const decided = `/api/v1/admin/adjustments/${requestIdOf(filed.body)}/approve`;
      const approved = await call("POST", decided, { cookie: second.cookie });
      expect(approved.status).toBe(200);
      const retried = await call("POST", `/api/v1${path}`, toApprove);
      expect(retried.status).toBe(200);
      expect(retried.body).toMatchObject({ transactionId: approved.body.transactionId, balance: THRESHOLD + 1 });
      expect(retried.body.status ?? "applied").toBe("applied");

      const toReject = filing(rejectedUser);
      const refused = await call("POST", `/api/v1${path}`, toReject);
      await call("POST", `/api/v1/admin/adjustments/${requestIdOf(refused.body)}/reject`, { cookie: second.cookie });
      const again = await call("POST", `/api/v1${path}`, toReject);
      expect(again.status).toBe(409);
      expect(again.body.error).toEqual({
        code: "IDEMPOTENCY_CONFLICT",
        message: expect.stringMatching(/was rejected/),
      });
    });
  }
});
