// Shared by authorization.test.ts: the server, the procedures of appRouter, who must be refused for
// each kind of access, calls over REST and tRPC, and the snapshot of everything a slip could change.
import { randomUUID } from "node:crypto";
import { type Access, appRouter } from "@credits/api";
import {
  adjustmentRequests,
  adminActions,
  apiKeys,
  creditPackages,
  creditTransactions,
  holds,
  payments,
  reconciliationRuns,
  sessions,
  users,
} from "@credits/db/schema";
import { eq } from "drizzle-orm";
import type { OpenApiMeta } from "trpc-to-openapi";
import { expect } from "vitest";
import { startTestServer, testDb } from "./harness.ts";

export const { db } = testDb;
export const server = await startTestServer();
export const PASSWORD = "correct horse battery";

export interface Fixtures {
  victim: { id: string };
  newHold(): Promise<string>;
  newKey(): Promise<string>;
  // A finished reconciliation run.
  newReconciliationRun(): Promise<string>;
  // A fresh user of no importance (to erase).
  newUser(): Promise<string>;
  // A large adjustment requested by another admin, waiting for approval.
  newAdjustmentRequest(): Promise<string>;
  // A pack on sale (to edit or archive).
  newPackage(): Promise<string>;
  // A payment of the victim's, paid on the local provider's checkout page (refundable).
  newPaidPayment(): Promise<string>;
  // A refund another admin asked for, waiting for approval.
  newRefundRequest(): Promise<string>;
}

export type Input = Record<string, unknown> | undefined;
export interface Row {
  access: Access;
  // A valid input: if the caller were let through, the call would succeed (and write, if it writes).
  // `self` is the allowed caller when the procedure acts on the caller's own records.
  input?: (fx: Fixtures, self?: { id: string; cookie: string }) => Input | Promise<Input>;
}

interface ProcedureDef {
  type: "query" | "mutation" | "subscription";
  meta?: { access?: Access; openapi?: NonNullable<OpenApiMeta["openapi"]> };
}
export const procedures = Object.fromEntries(
  Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: ProcedureDef }>).map(([path, p]) => [
    path,
    p._def,
  ]),
);

// --- callers -------------------------------------------------------------------------------------

export type CallerKind =
  | "anonymous"
  | "plain user"
  | "admin session"
  | "API key lacking the scope"
  | "API key with every scope"
  | "revoked API key with every scope"
  | "malformed API key";

export interface Credentials {
  cookie?: string;
  key?: string;
}

export interface Refusal {
  caller: CallerKind;
  status: 401 | 403;
  code: "UNAUTHENTICATED" | "FORBIDDEN";
}

const unauthenticated = (caller: CallerKind): Refusal => ({ caller, status: 401, code: "UNAUTHENTICATED" });
export const forbidden = (caller: CallerKind): Refusal => ({ caller, status: 403, code: "FORBIDDEN" });

// Who must be refused, and how, for each kind of access.
export function refusalsFor(access: Access): Refusal[] {
  if (access === "public") return [];
  const common = [
    unauthenticated("anonymous"),
    unauthenticated("revoked API key with every scope"),
    unauthenticated("malformed API key"),
  ];
  if (access === "user") return [...common, unauthenticated("API key with every scope")];
  if (access === "admin") return [...common, forbidden("plain user"), unauthenticated("API key with every scope")];
  return [
    ...common,
    forbidden("API key lacking the scope"),
    // With orUser the plain user still may not act on someone else's account (the input names the victim).
    forbidden("plain user"),
    ...(access.orAdmin ? [] : [forbidden("admin session")]),
  ];
}

// --- HTTP ----------------------------------------------------------------------------------------

export interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON, asserted field by field
  body: any;
}

export async function send(
  method: string,
  path: string,
  credentials: Credentials,
  body?: unknown,
  { json = body !== undefined } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (json) headers["content-type"] = "application/json";
  if (credentials.cookie) headers.cookie = credentials.cookie;
  if (credentials.key) headers.authorization = `Bearer ${credentials.key}`;
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? null : JSON.parse(text) };
}

export type Transport = "REST" | "tRPC";

export function callOver(transport: Transport, path: string, input: Input, credentials: Credentials): Promise<Reply> {
  const def = procedures[path];
  if (!def) throw new Error(`no procedure ${path}`);
  if (transport === "tRPC") {
    if (def.type === "query") {
      const query = input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(input))}`;
      return send("GET", `/trpc/${path}${query}`, credentials);
    }
    // tRPC clients always label a mutation as JSON, even one without input.
    return send("POST", `/trpc/${path}`, credentials, input, { json: true });
  }
  const openapi = def.meta?.openapi;
  if (!openapi) throw new Error(`${path} has no REST route`);
  const rest: Record<string, unknown> = { ...input };
  const route = openapi.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = rest[name];
    delete rest[name];
    return encodeURIComponent(String(value));
  });
  // GET and DELETE take their input from the query string (trpc-to-openapi reads no body for them).
  if (openapi.method === "GET" || openapi.method === "DELETE") {
    const query = new URLSearchParams(
      Object.entries(rest).map(([k, v]): [string, string] => [k, String(v)]),
    ).toString();
    return send(openapi.method, `/api/v1${route}${query ? `?${query}` : ""}`, credentials);
  }
  return send(openapi.method, `/api/v1${route}`, credentials, input === undefined ? undefined : rest);
}

export function transportsOf(path: string): Transport[] {
  return procedures[path]?.meta?.openapi ? ["REST", "tRPC"] : ["tRPC"];
}

export function expectRefused(transport: Transport, reply: Reply, refusal: Refusal): void {
  expect(reply.status).toBe(refusal.status);
  if (transport === "REST") {
    expect(reply.body).toEqual({ error: { code: refusal.code, message: expect.any(String) } });
  } else {
    expect(reply.body.error.data).toMatchObject({ appCode: refusal.code, httpStatus: refusal.status });
  }
}

// Everything an authorization slip could change: the ledger, balances and roles, holds, API keys
// and sessions.
export async function snapshot() {
  const [ledger, paymentRows, audit, runs, requests, people, holdRows, keys, sessionRows] = await Promise.all([
    db.$count(creditTransactions),
    db.$count(payments),
    db.$count(adminActions),
    db.$count(reconciliationRuns),
    db.select({ id: adjustmentRequests.id, status: adjustmentRequests.status }).from(adjustmentRequests),
    db.select({ id: users.id, role: users.role, balance: users.creditsBalance }).from(users),
    db.select({ id: holds.id, status: holds.status, captured: holds.capturedAmount }).from(holds),
    db.select({ id: apiKeys.id, revokedAt: apiKeys.revokedAt, scopes: apiKeys.scopes }).from(apiKeys),
    db.select({ id: sessions.id, userId: sessions.userId }).from(sessions),
  ]);
  const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
  return {
    ledger,
    payments: paymentRows,
    audit,
    runs,
    adjustmentRequests: requests.sort(byId),
    users: people.sort(byId),
    holds: holdRows.sort(byId),
    apiKeys: keys.sort(byId),
    sessions: sessionRows.sort(byId),
  };
}

export function sessionCookie(response: Response): string {
  const pair = response.headers.getSetCookie()[0]?.split(";")[0] ?? "";
  expect(pair).toMatch(/^session=[a-z2-7]{32}$/);
  return pair;
}

// A checkout of the caller's own, through the server's services (local provider).
export async function checkoutFor(userId: string): Promise<{ paymentId: string; sessionId: string }> {
  const { paymentId, checkoutUrl } = await server.services.payments.createCheckout(userId, await starterPack());
  return { paymentId, sessionId: checkoutUrl.split("/").at(-1) ?? "" };
}

// A seeded pack on sale (the matrix archives packs of its own, never this one).
export async function starterPack(): Promise<string> {
  const [pack] = await db
    .select({ id: creditPackages.id })
    .from(creditPackages)
    .where(eq(creditPackages.slug, "starter"));
  if (!pack) throw new Error("no starter pack");
  return pack.id;
}

// A checkout of the user's, paid on the local provider's page.
export async function paidPayment(userId: string): Promise<string> {
  const { paymentId, sessionId } = await checkoutFor(userId);
  const paid = await fetch(`${server.url}/checkout/local/${sessionId}/pay`, { method: "POST", redirect: "manual" });
  expect(paid.status).toBe(303);
  return paymentId;
}

export async function signUp(): Promise<{ id: string; cookie: string }> {
  const response = await fetch(`${server.url}/api/v1/auth/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: `matrix-${randomUUID()}@example.test`, password: PASSWORD }),
  });
  expect(response.status).toBe(201);
  const body = (await response.json()) as { user: { id: string } };
  return { id: body.user.id, cookie: sessionCookie(response) };
}
