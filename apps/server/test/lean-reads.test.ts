// ADR 022: GET /api/v1/users/{userId}/balance, /api/v1/me/balance, /api/v1/users/{userId}/credits
// and /api/v1/me/credits take a lean route (apps/server/src/lean-reads.ts) that skips Hono's
// middlewares, the REST adapter and tRPC's chain.
// It must answer exactly as the documented route does. Each request of a matrix (credentials of
// every kind and state, user ids of every shape, hostile headers) is sent three ways through the
// real server: plainly (the lean route, which counts its answers: proof that it answered), with an
// empty query string (which the lean route leaves to Hono, the REST adapter and tRPC: the documented
// route, with no other difference) and as the tRPC procedure. Status, error code, message, fields,
// body and every header but Date must agree; and the lean route's log line and request-duration
// sample must be the documented route's.
import { randomUUID } from "node:crypto";
import { DEFAULT_PAGE_SIZE, sessionIdOf } from "@credits/core";
import { captureLogs, httpRequestDuration } from "@credits/observability";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { leanAnswers } from "../src/lean-reads.ts";
import { startTestServer, testDb } from "./harness.ts";

const server = await startTestServer();
const { services } = server;
const PASSWORD = "correct horse battery";
const email = (name: string) => `lean-${name}-${randomUUID()}@example.test`;
// The documented twin of a lean request: the same path with an empty query string, which Hono reads
// as the same path but the lean route leaves alone.
const DOCUMENTED = "?";

const admin = await services.auth.createUser({ email: email("admin"), password: PASSWORD, role: "admin" });
const adminSession = await services.auth.logIn({ email: admin.email, password: PASSWORD });
const key = async (scopes: ("credits:read" | "credits:spend")[], ownerUserId = admin.id) =>
  (await services.apiKeys.create({ name: "lean", scopes, ownerUserId })).key;
const readKey = await key(["credits:read"]);
const spendKey = await key(["credits:spend"]);
const revoked = await services.apiKeys.create({ name: "lean", scopes: ["credits:read"], ownerUserId: admin.id });
await services.apiKeys.revoke(revoked.id);
const reader = await services.auth.signUp({ email: email("reader"), password: PASSWORD });
const other = await services.auth.signUp({ email: email("other"), password: PASSWORD });
// Another user with more than a page of history, grants of several expiries and a spend across
// them: the credits answer then carries a next cursor, allocations and a next expiry.
for (let i = 0; i < DEFAULT_PAGE_SIZE + 2; i += 1) {
  await services.credits.grant({
    scope: { kind: "user", id: "lean" },
    userId: other.user.id,
    amount: 5,
    idempotencyKey: randomUUID(),
    terms: i % 2 ? { expiresAt: new Date(Date.now() + (i + 1) * 3_600_000) } : {},
  });
}
await services.credits.spend({
  scope: { kind: "user", id: "lean" },
  userId: other.user.id,
  amount: 12,
  idempotencyKey: randomUUID(),
});
await services.credits.grant({
  scope: { kind: "user", id: "lean" },
  userId: reader.user.id,
  amount: 40,
  idempotencyKey: randomUUID(),
  terms: { expiresAt: new Date(Date.now() + 86_400_000) },
});
const loggedOut = await services.auth.signUp({ email: email("out"), password: PASSWORD });
await services.auth.logOut(loggedOut.token);
const expired = await services.auth.signUp({ email: email("expired"), password: PASSWORD });
await testDb.db.execute(
  sql`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = ${sessionIdOf(expired.token)}`,
);
// An erased user: their session is gone, and so is the key of an erased admin.
const erased = await services.auth.signUp({ email: email("erased"), password: PASSWORD });
const erasedAdmin = await services.auth.createUser({ email: email("gone"), password: PASSWORD, role: "admin" });
const erasedAdminKey = await key(["credits:read"], erasedAdmin.id);
for (const userId of [erased.user.id, erasedAdmin.id]) {
  await services.gdpr.erase({ userId, actorId: null, reason: "lean route test" });
}

const session = (token: string) => ({ cookie: `session=${token}` });
const bearer = (value: string) => ({ authorization: `Bearer ${value}` });
type Headers = Record<string, string>;

// [case, user id or "me", request headers]
const ofUser: [string, string, Headers][] = [
  ["no credentials", reader.user.id, {}],
  ["valid key", reader.user.id, bearer(readKey)],
  ["valid key, another user", other.user.id, bearer(readKey)],
  ["valid key, upper-case id", reader.user.id.toUpperCase(), bearer(readKey)],
  ["valid key, unknown user", randomUUID(), bearer(readKey)],
  ["valid key, nil uuid", "00000000-0000-0000-0000-000000000000", bearer(readKey)],
  ["valid key, erased user", erased.user.id, bearer(readKey)],
  ["valid key, non-uuid id", "not-a-uuid", bearer(readKey)],
  ["valid key, numeric id", "12345", bearer(readKey)],
  ["valid key, 'true' as id", "true", bearer(readKey)],
  ["valid key, huge id", "a".repeat(6_000), bearer(readKey)],
  ["valid key, control characters in the id", "a%00b%0d%0a", bearer(readKey)],
  ["valid key, escaped uuid", encodeURIComponent(reader.user.id).replace("-", "%2D"), bearer(readKey)],
  ["malformed key", reader.user.id, bearer("not-a-key")],
  ["huge key", reader.user.id, bearer("k".repeat(6_000))],
  ["two tokens in Authorization", reader.user.id, { authorization: `Bearer ${readKey} extra` }],
  ["Basic authorization", reader.user.id, { authorization: "Basic dXNlcjpwYXNz" }],
  ["revoked key", reader.user.id, bearer(revoked.key)],
  ["key of an erased owner", reader.user.id, bearer(erasedAdminKey)],
  ["key without credits:read", reader.user.id, bearer(spendKey)],
  ["key and a session cookie", reader.user.id, { ...bearer(readKey), ...session(reader.token) }],
  ["user's own session (not an admin)", reader.user.id, session(reader.token)],
  ["admin session, another user", reader.user.id, session(adminSession.token)],
  ["logged-out session", reader.user.id, session(loggedOut.token)],
  [
    "hostile request id and cookie",
    reader.user.id,
    { "x-request-id": "bad id\t!", cookie: `session=${"x".repeat(4_000)}` },
  ],
];
const mine: [string, string, Headers][] = [
  ["no credentials", "me", {}],
  ["valid session", "me", session(reader.token)],
  ["admin session", "me", session(adminSession.token)],
  ["logged-out session", "me", session(loggedOut.token)],
  ["expired session", "me", session(expired.token)],
  ["erased user's session", "me", session(erased.token)],
  ["malformed cookie", "me", { cookie: "session=;;=x; session" }],
  ["huge cookie", "me", session("s".repeat(6_000))],
  ["an API key instead", "me", bearer(readKey)],
  ["an API key and a session", "me", { ...bearer(readKey), ...session(reader.token) }],
];

async function send(path: string, headers: Headers) {
  const response = await fetch(`${server.url}${path}`, { headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? null : JSON.parse(text) };
}

// Every header but the date; the request id too unless the server generated it (a hostile one).
function comparable(headers: globalThis.Headers, generatedId: boolean) {
  const all = Object.fromEntries(headers.entries());
  delete all.date;
  if (generatedId) delete all["x-request-id"];
  return all;
}

// Sends a request twice, expecting the lean route to answer the first (unless its path is escaped,
// which the lean route leaves to Hono's decoding) and never the second.
async function leanAndDocumented(path: string, headers: Headers) {
  const leanAnswered = path.includes("%") ? 0 : 1;
  const before = leanAnswers.count;
  const lean = await send(path, headers);
  expect(leanAnswers.count - before).toBe(leanAnswered);
  const documented = await send(path + DOCUMENTED, headers);
  expect(leanAnswers.count - before).toBe(leanAnswered);
  return { lean, documented };
}

// Each case of the matrix, for the balance-only read and the balance-and-history read.
const READS = ["balance", "credits"] as const;
type ReadOf = (typeof READS)[number];
const cases = [...ofUser, ...mine].flatMap(([name, userId, headers]) =>
  READS.map((read) => [`${read}: ${name}`, userId, headers, read] as const),
);
const pathOf = (userId: string, read: ReadOf) =>
  userId === "me" ? `/api/v1/me/${read}` : `/api/v1/users/${userId}/${read}`;
const PROCEDURES = {
  balance: { me: "credits.myBalance", user: "credits.balanceOfUser" },
  credits: { me: "credits.mine", user: "credits.ofUser" },
};

describe("the lean route answers as the documented route and the tRPC procedure", () => {
  let seen = 0;
  it.each(cases)("%s", async (_name, userId, headers, read) => {
    seen += 1;
    const requestId = `lean-${seen}`;
    const path = pathOf(userId, read);
    const sent = { ...headers, "x-request-id": requestId, ...hostileId(headers) };
    const { lean, documented } = await leanAndDocumented(path, sent);
    expect({ status: lean.status, body: lean.body }).toEqual({ status: documented.status, body: documented.body });
    const generatedId = headers["x-request-id"] !== undefined;
    expect(comparable(lean.headers, generatedId)).toEqual(comparable(documented.headers, generatedId));
    expect(lean.headers.get("vary")).toContain("Origin");
    const echoed = lean.headers.get("x-request-id");
    if (headers["x-request-id"]) expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
    else expect(echoed).toBe(requestId);

    const procedure = PROCEDURES[read][userId === "me" ? "me" : "user"];
    // The REST input of a plain path: the user id, or nothing (myBalance) or no field (mine).
    const given = userId === "me" ? (read === "credits" ? {} : undefined) : { userId: decoded(userId) };
    const input = given === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(given))}`;
    const trpc = await send(`/trpc/${procedure}${input}`, headers);
    expect(trpc.status).toBe(lean.status);
    if (lean.status === 200) {
      expect(trpc.body.result.data).toEqual(lean.body);
      return;
    }
    const { appCode, fieldErrors, formErrors } = trpc.body.error.data;
    expect({ code: lean.body.error.code, message: lean.body.error.message }).toEqual({
      code: appCode,
      message: trpc.body.error.message,
    });
    const fields = { ...fieldErrors, ...(formErrors?.length ? { _: formErrors } : {}) };
    expect(lean.body.error.fields ?? {}).toEqual(fields);
  });

  it("compares a full credits answer: a next cursor, allocations, a next expiry", async () => {
    const { lean, documented } = await leanAndDocumented(`/api/v1/users/${other.user.id}/credits`, bearer(readKey));
    expect(lean.body).toEqual(documented.body);
    expect(lean.body.transactions).toHaveLength(DEFAULT_PAGE_SIZE);
    expect(lean.body.nextCursor).toEqual(expect.any(String));
    expect(lean.body.nextExpiry).not.toBeNull();
    expect(lean.body.transactions[0].allocations.length).toBeGreaterThan(1);
  });

  it("covers every answer the matrix means to reach", async () => {
    for (const read of READS) {
      const statuses = new Set<number>();
      for (const [, userId, headers] of [...ofUser, ...mine])
        statuses.add((await send(pathOf(userId, read), headers)).status);
      expect([...statuses].sort()).toEqual([200, 400, 401, 403, 404]);
    }
  });
});

describe("the lean route logs and counts a request as the documented route does", () => {
  it.each([
    ["by key", `/api/v1/users/${reader.user.id}/balance`, bearer(readKey), "/api/v1/users/{userId}/balance", 200],
    ["refused", `/api/v1/users/${reader.user.id}/balance`, bearer(spendKey), "/api/v1/users/{userId}/balance", 403],
    ["invalid id", "/api/v1/users/not-a-uuid/balance", bearer(readKey), "/api/v1/users/{userId}/balance", 400],
    ["by session", "/api/v1/me/balance", session(reader.token), "/api/v1/me/balance", 200],
    ["logged out", "/api/v1/me/balance", session(loggedOut.token), "/api/v1/me/balance", 401],
    [
      "credits by key",
      `/api/v1/users/${reader.user.id}/credits`,
      bearer(readKey),
      "/api/v1/users/{userId}/credits",
      200,
    ],
    [
      "credits refused",
      `/api/v1/users/${reader.user.id}/credits`,
      bearer(spendKey),
      "/api/v1/users/{userId}/credits",
      403,
    ],
    [
      "credits of an invalid id",
      "/api/v1/users/not-a-uuid/credits",
      bearer(readKey),
      "/api/v1/users/{userId}/credits",
      400,
    ],
    ["credits by session", "/api/v1/me/credits", session(reader.token), "/api/v1/me/credits", 200],
    ["credits logged out", "/api/v1/me/credits", session(loggedOut.token), "/api/v1/me/credits", 401],
  ] as const)("%s", async (name, path, headers, route, status) => {
    const logs = captureLogs("info");
    const before = await samples(route, status);
    const logged: Record<string, unknown>[] = [];
    for (const [via, query] of [
      ["lean", ""],
      ["documented", DOCUMENTED],
    ] as const) {
      const requestId = `log-${name.replace(/ /g, "-")}-${via}`;
      const answered = leanAnswers.count;
      expect((await send(path + query, { ...headers, "x-request-id": requestId })).status).toBe(status);
      expect(leanAnswers.count - answered).toBe(via === "lean" ? 1 : 0);
      const entry = logs.entries().find((line) => line.requestId === requestId);
      const { level, msg, method, userId, apiKeyId } = entry ?? {};
      logged.push({ level, msg, method, route: entry?.route, status: entry?.status, userId, apiKeyId });
    }
    logs.stop();
    expect(logged[0]).toEqual(logged[1]);
    expect(logged[0]).toMatchObject({ msg: "request", route, status });
    expect((await samples(route, status)) - before).toBe(2);
  });
});

// The request duration histogram's count for a route and status.
async function samples(route: string, status: number) {
  const { values } = await httpRequestDuration.get();
  const count = values.find(
    (v) =>
      v.metricName === "http_request_duration_seconds_count" &&
      v.labels.route === route &&
      v.labels.status === String(status),
  );
  return Number(count?.value ?? 0);
}

// A hostile X-Request-Id of the case replaces the test's own.
const hostileId = (headers: Headers) => (headers["x-request-id"] ? { "x-request-id": headers["x-request-id"] } : {});
const decoded = (id: string) => {
  try {
    return decodeURIComponent(id);
  } catch {
    return id;
  }
};
