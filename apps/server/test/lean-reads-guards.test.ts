// ADR 022: what keeps the lean route of the four credits reads (apps/server/src/lean-reads.ts) the
// documented route's twin. Which requests it takes (its matcher), the start-up check of the
// procedures it mirrors and that it runs their own resolvers, the app's middlewares it mirrors
// (pinned here: a change must reach lean-reads.ts), and a throw outside the read handled as the
// app's onError handles it.
import { createHash, randomUUID } from "node:crypto";
import {
  appRouter,
  createContext,
  LEAN_READ_PROCEDURES,
  type LeanProcedureDef,
  leanRead,
  leanReadProblems,
  sessionCookieJar,
} from "@credits/api";
import { sessionIdOf } from "@credits/core";
import { captureLogs, errorsTotal } from "@credits/observability";
import { TRPCError } from "@trpc/server";
import { sql } from "drizzle-orm";
import { TrieRouter } from "hono/router/trie-router";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createApp } from "../src/app.ts";
import type { BalanceFeed } from "../src/balance-feed.ts";
import { addAppHeaders, leanAnswers, leanReadOf, leanRouteProblems } from "../src/lean-reads.ts";
import { observeResponses } from "../src/response-observers.ts";
import { startTestServer, testDb } from "./harness.ts";

const server = await startTestServer();
const { services } = server;
const ID = "0b6c2d1e-6f1a-4a57-9a59-3a4e2f1c9d10";

describe("the lean route's matcher", () => {
  const of = (path: string, init: RequestInit = {}) => leanReadOf(new Request(`http://127.0.0.1:3000${path}`, init));

  it("takes the plain GET of the four paths", () => {
    expect(of("/api/v1/me/balance")).toEqual({ kind: "myBalance" });
    expect(of(`/api/v1/users/${ID}/balance`)).toEqual({ kind: "balanceOfUser", userId: ID });
    expect(of("/api/v1/me/credits")).toEqual({ kind: "mine" });
    expect(of(`/api/v1/users/${ID}/credits`)).toEqual({ kind: "ofUser", userId: ID });
    expect(of(`/api/v1/users/${ID.toUpperCase()}/balance`)).toEqual({
      kind: "balanceOfUser",
      userId: ID.toUpperCase(),
    });
    expect(of("/api/v1/users/not-a-uuid/balance", { headers: { authorization: "Bearer x" } })).not.toBeNull();
  });

  it.each([
    ["HEAD", "/api/v1/me/balance", { method: "HEAD" }],
    ["OPTIONS", "/api/v1/me/balance", { method: "OPTIONS" }],
    ["a query string", "/api/v1/me/balance?x=1", {}],
    ["an empty query string", `/api/v1/users/${ID}/balance?`, {}],
    ["an escaped id", `/api/v1/users/${ID.replace("-", "%2D")}/balance`, {}],
    ["an escaped path", "/api/v1/me/%62alance", {}],
    ["a double slash", "//api/v1/me/balance", {}],
    ["a double slash inside", "/api/v1//me/balance", {}],
    ["a trailing slash", `/api/v1/users/${ID}/balance/`, {}],
    ["upper case", "/API/v1/me/balance", {}],
    ["upper case inside", `/api/v1/users/${ID}/Balance`, {}],
    ["an Origin", "/api/v1/me/balance", { headers: { origin: "http://localhost:3000" } }],
    ["a Content-Length", "/api/v1/me/balance", { headers: { "content-length": "0" } }],
    ["a Transfer-Encoding", "/api/v1/me/balance", { headers: { "transfer-encoding": "chunked" } }],
    ["a query string (credits)", "/api/v1/me/credits?limit=5", {}],
    ["an empty query string (credits)", `/api/v1/users/${ID}/credits?`, {}],
    ["a trailing slash (credits)", "/api/v1/me/credits/", {}],
    ["an escaped path (credits)", `/api/v1/users/${ID}/%63redits`, {}],
    ["HEAD (credits)", "/api/v1/me/credits", { method: "HEAD" }],
    ["an Origin (credits)", `/api/v1/users/${ID}/credits`, { headers: { origin: "http://localhost:3000" } }],
    ["another resource of the user", `/api/v1/users/${ID}/grants`, {}],
  ] as const)("leaves %s to the documented route", (_name, path, init) => {
    expect(of(path, init as RequestInit)).toBeNull();
  });
});

// No answer of these two routes sets Vary or Cache-Control today: the matrix cannot show this.
it("adds the app's headers as the app does: appended Vary and cookies, no-store only when absent", () => {
  const headers = new Headers({ "Cache-Control": "private", Vary: "Accept", "Set-Cookie": "a=1" });
  addAppHeaders(headers, false, "id-1", ["session=x"], [["RateLimit", "r"]]);
  expect(headers.get("cache-control")).toBe("private");
  expect(headers.get("vary")).toBe("Accept, Origin");
  expect(headers.getSetCookie()).toEqual(["a=1", "session=x"]);
  expect([headers.get("ratelimit"), headers.get("x-request-id")]).toEqual(["r", "id-1"]);
  const bare = new Headers();
  addAppHeaders(bare, false, "id-2", [], []);
  expect([bare.get("cache-control"), bare.get("vary")]).toEqual(["no-store", "Origin"]);
});

describe("the procedures the lean route mirrors", () => {
  const defOf = (name: string) =>
    (appRouter._def.procedures as unknown as Record<string, { _def: LeanProcedureDef }>)[name]
      ?._def as LeanProcedureDef;

  it("are as lean-reads.ts implements them (else the server refuses to start)", () => {
    expect(leanRouteProblems()).toEqual([]);
  });

  it("show a middleware added to a procedure's chain", () => {
    const def = defOf(LEAN_READ_PROCEDURES.balanceOfUser.path);
    const added = { ...def, middlewares: [...def.middlewares.slice(0, 2), () => null, ...def.middlewares.slice(2)] };
    expect(leanReadProblems("balanceOfUser", added)).toContain("credits.balanceOfUser: 6 middlewares, not 5");
  });

  it("show another access rule, in the chain or in meta.access", () => {
    // credits.spend: a serviceProcedure of another scope; auth.me: requireUser, not ownReadProcedure's rule.
    expect(leanReadProblems("balanceOfUser", defOf("credits.spend"))).toEqual([
      "credits.balanceOfUser: not a query with a resolver",
      "credits.balanceOfUser: the access middleware is not the one the lean route applies",
      "credits.balanceOfUser: its input or output schema is not the one the lean route parses with",
      "credits.balanceOfUser: meta.access differs",
    ]);
    expect(leanReadProblems("myBalance", defOf("auth.me"))).toContain(
      "credits.myBalance: the access middleware is not the one the lean route applies",
    );
    const def = defOf(LEAN_READ_PROCEDURES.myBalance.path);
    expect(leanReadProblems("myBalance", { ...def, meta: { access: "admin" } })).toEqual([
      "credits.myBalance: meta.access differs",
    ]);
  });

  it("show another input or output schema", () => {
    const def = defOf(LEAN_READ_PROCEDURES.ofUser.path);
    const problem = "credits.ofUser: its input or output schema is not the one the lean route parses with";
    expect(leanReadProblems("ofUser", { ...def, inputs: [z.object({})] })).toEqual([problem]);
    expect(leanReadProblems("ofUser", { ...def, output: z.object({}) })).toEqual([problem]);
    expect(leanReadProblems("mine", defOf(LEAN_READ_PROCEDURES.mine.path))).toEqual([]);
  });

  it("show a procedure without a resolver the lean route can call", () => {
    const def = defOf(LEAN_READ_PROCEDURES.mine.path);
    const problem = "credits.mine: not a query with a resolver";
    expect(leanReadProblems("mine", { ...def, resolver: undefined })).toEqual([problem]);
    expect(leanReadProblems("mine", { ...def, type: "mutation" })).toEqual([problem]);
  });

  // A rule inside a resolver (here: a planted one refusing the read) is not in the chain the guard
  // compares: the lean route runs the procedure's own resolver, so it applies there too.
  it("run the procedure's own resolver, with the access middleware's context", async () => {
    const def = defOf(LEAN_READ_PROCEDURES.balanceOfUser.path);
    const seen: unknown[] = [];
    const planted = {
      ...def,
      resolver: ({ ctx, input }: { ctx: { caller?: unknown }; input: unknown }) => {
        seen.push(ctx.caller, input);
        throw new TRPCError({ code: "FORBIDDEN", message: "a rule inside the resolver" });
      },
    };
    expect(leanReadProblems("balanceOfUser", planted)).toEqual([]);
    const owner = await services.auth.createUser({
      email: `lean-${randomUUID()}@example.test`,
      password: PASSWORD,
      role: "admin",
    });
    const { key, id } = await services.apiKeys.create({
      name: "lean",
      scopes: ["credits:read"],
      ownerUserId: owner.id,
    });
    const ctx = createContext({
      services,
      requestId: "planted",
      clientAddress: "127.0.0.1",
      sessionToken: null,
      apiKey: key,
      cookies: sessionCookieJar("session"),
    });
    const read = leanRead(ctx, planted, { kind: "balanceOfUser", userId: ID });
    await expect(read).rejects.toMatchObject({ code: "FORBIDDEN", message: "a rule inside the resolver" });
    expect(seen).toEqual([expect.objectContaining({ kind: "apiKey", apiKeyId: id }), { userId: ID }]);
  });
});

// Hono's handlers for GET /api/v1/me/balance, /users/{id}/balance, /me/credits and
// /users/{id}/credits, in order, by a hash of their
// source: what lean-reads.ts does in their place. A change here means a middleware was added,
// removed, moved or edited: make apps/server/src/lean-reads.ts do the same, then update this list.
const MIRRORED = [
  ["ALL", "/*", "aa5b9287e266"], // the request id: requestIdOf, X-Request-Id
  ["ALL", "/*", "ecd266104267"], // responseObserver: observeAnswer
  ["ALL", "/*", "4c62fe60cc9a"], // requestTelemetry: recordRequest
  ["ALL", "/*", "aeab84b931e1"], // securityHeaders: securityHeaderList, no-store when absent
  ["ALL", "/*", "e4fed6d4ad86"], // the body limit: no body taken (Content-Length, Transfer-Encoding)
  ["ALL", "/api/v1/*", "6880cea605ed"], // CORS: no Origin taken, Vary: Origin appended
  ["ALL", "/api/v1/*", "ac18884c56ed"], // csrfGuard: a GET passes it
  ["ALL", "/api/v1/*", "5c508f8b8dca"], // withContext and the REST adapter: respond, readAnswer
];

describe("the app's middlewares on the lean paths", () => {
  it("are those lean-reads.ts mirrors", () => {
    const app = createApp({
      services,
      localProvider: null,
      publicUrl: "http://localhost:3000",
      corsOrigins: [],
      bodyLimitBytes: 1024,
      trustProxy: 0,
      production: false,
      ready: async () => true,
      balanceEvents: { feed: {} as BalanceFeed, heartbeatMs: 1000 },
    });
    // Which handlers apply to a GET of the lean paths, as a Hono router matches them (constrained
    // parameters, optional segments and wildcards included), in registration order.
    const router = new TrieRouter<number>();
    app.routes.forEach((route, index) => {
      router.add(route.method, route.path, index);
    });
    const applying = new Set(
      ["/api/v1/me/balance", `/api/v1/users/${ID}/balance`, "/api/v1/me/credits", `/api/v1/users/${ID}/credits`]
        .flatMap((path) => router.match("GET", path)[0] as [number, unknown][])
        .map(([index]) => index),
    );
    const handlers = app.routes
      .filter((_route, index) => applying.has(index))
      .map((route) => [route.method, route.path, hash(route.handler.toString())]);
    expect(handlers, "the app's middlewares changed: mirror them in apps/server/src/lean-reads.ts").toEqual(MIRRORED);
  });
});

const hash = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 12);

const PASSWORD = "correct horse battery";
const signUp = () => services.auth.signUp({ email: `lean-${randomUUID()}@example.test`, password: PASSWORD });
// A session a day from expiry: the next request renews it and sends its cookie again.
const nearExpiry = (token: string) =>
  testDb.db.execute(sql`UPDATE sessions SET expires_at = now() + interval '1 day' WHERE id = ${sessionIdOf(token)}`);

type Answer = Awaited<ReturnType<typeof send>>;

async function send(path: string, headers: Record<string, string>) {
  const response = await fetch(`${server.url}${path}`, { headers });
  // The text is what is compared (key order, escapes); the parsed body is for reading fields.
  const text = await response.text();
  const body = JSON.parse(text) as { error: { code: string; message: string; requestId?: string } };
  return { status: response.status, headers: response.headers, text, body };
}

// Sent plainly (the lean route, checked by its count) and with "?" (the documented route).
async function twice(path: string, headers: Record<string, string>, before?: () => Promise<unknown>) {
  const answered = leanAnswers.count;
  await before?.();
  const lean = await send(path, { ...headers, "x-request-id": `lean-${randomUUID()}` });
  expect(leanAnswers.count - answered).toBe(1);
  await before?.();
  const documented = await send(`${path}?`, { ...headers, "x-request-id": `documented-${randomUUID()}` });
  expect(leanAnswers.count - answered).toBe(1);
  return { lean, documented };
}

const errorCount = async () =>
  (await errorsTotal.get()).values.find((value) => value.labels.where === "http")?.value ?? 0;

// Every case below runs on both kinds of read: /balance and /credits.
const READS = ["balance", "credits"] as const;

describe("a throw outside the read", () => {
  const throws = [
    ["an internal error", () => new Error("observer failed"), 500, "INTERNAL", 2],
    ["an unavailable database", () => Object.assign(new Error("gone"), { code: "57P01" }), 503, "UNAVAILABLE", 0],
  ] as const;
  it.each(READS.flatMap((read) => throws.map(([name, ...rest]) => [`${read}: ${name}`, read, ...rest] as const)))(
    "%s is answered as the app's onError answers it",
    async (_name, read, thrown, status, code, reported) => {
      const path = `/api/v1/me/${read}`;
      const user = await signUp();
      const cookie = `session=${user.token}`;
      const errors = await errorCount();
      const logs = captureLogs("info");
      // The observers run after the answer is built, outside the read, on both routes.
      const stop = observeResponses(() => {
        throw thrown();
      });
      const { lean, documented } = await twice(path, { cookie }, () => nearExpiry(user.token)).finally(() => {
        stop();
        logs.stop();
      });
      const requestId = lean.headers.get("x-request-id");
      expect(lean.status).toBe(status);
      expect(lean.body).toEqual({ error: { code, message: expect.any(String), requestId } });
      const documentedId = documented.headers.get("x-request-id") as string;
      expect(lean.text.replace(requestId as string, "")).toBe(documented.text.replace(documentedId, ""));
      for (const name of ["content-type", "retry-after"])
        expect(lean.headers.get(name)).toBe(documented.headers.get(name));
      expect(documented.body.error.requestId).toBe(documented.headers.get("x-request-id"));
      // What the app adds around its onError for a throw inside a handler, and the renewed cookie,
      // which the documented route loses when the throw is above withContext.
      expect(lean.headers.get("x-content-type-options")).toBe("nosniff");
      expect(lean.headers.get("cache-control")).toBe("no-store");
      expect(lean.headers.get("vary")).toBe("Origin");
      expect(lean.headers.get("set-cookie")).toMatch(/^session=.+; Expires=/);
      const line = logs.entries().find((entry) => entry.requestId === requestId && entry.msg === "request");
      expect(line).toMatchObject({ route: path, status, userId: user.user.id });
      expect((await errorCount()) - errors).toBe(reported);
    },
  );
});

describe("cases the matrix does not reach", () => {
  const withoutExpiry = (cookie: string | null) => cookie?.replace(/Expires=[^;]+/, "Expires=…");
  const headersOf = ({ headers }: { headers: Headers }) => {
    const all = Object.fromEntries(headers.entries());
    for (const name of ["date", "x-request-id"]) delete all[name];
    return { ...all, "set-cookie": withoutExpiry(headers.get("set-cookie")) };
  };

  const same = (lean: Answer, documented: Answer) =>
    expect({ status: lean.status, text: lean.text, headers: headersOf(lean) }).toEqual({
      status: documented.status,
      text: documented.text,
      headers: headersOf(documented),
    });

  it.each(READS)("a renewed session's cookie on a 200 (%s)", async (read) => {
    const user = await signUp();
    const { lean, documented } = await twice(`/api/v1/me/${read}`, { cookie: `session=${user.token}` }, () =>
      nearExpiry(user.token),
    );
    expect(lean.status).toBe(200);
    expect(lean.headers.get("set-cookie")).toMatch(/^session=.+; Expires=/);
    same(lean, documented);
  });

  it.each(READS)("a demoted admin's session (%s)", async (read) => {
    const admin = await services.auth.createUser({
      email: `lean-${randomUUID()}@example.test`,
      password: PASSWORD,
      role: "admin",
    });
    const { token } = await services.auth.logIn({ email: admin.email, password: PASSWORD });
    const path = `/api/v1/users/${admin.id}/${read}`;
    expect((await send(path, { cookie: `session=${token}` })).status).toBe(200);
    await testDb.db.execute(sql`UPDATE users SET role = 'user' WHERE id = ${admin.id}`);
    const { lean, documented } = await twice(path, { cookie: `session=${token}` });
    expect(lean.status).toBe(403);
    same(lean, documented);
  });

  it.each(READS)("a key revoked after it was cached (%s)", async (read) => {
    const user = await signUp();
    const owner = await services.auth.createUser({
      email: `lean-${randomUUID()}@example.test`,
      password: PASSWORD,
      role: "admin",
    });
    const created = await services.apiKeys.create({
      name: "lean",
      scopes: ["credits:read"],
      ownerUserId: owner.id,
    });
    const headers = { authorization: `Bearer ${created.key}` };
    const path = `/api/v1/users/${user.user.id}/${read}`;
    expect((await send(path, headers)).status).toBe(200);
    await services.apiKeys.revoke(created.id);
    // This process's revoke drops the key from its 5 s cache: both routes refuse it at once.
    const { lean, documented } = await twice(path, headers);
    expect(lean.status).toBe(401);
    same(lean, documented);
  });
});
