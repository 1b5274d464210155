// Shared by the session tests (sessions*.test.ts): a server allowing one CORS origin, HTTP calls, the
// Set-Cookie parser, signing up and logging in, and the rows behind them.
import { randomUUID } from "node:crypto";
import { sessionIdOf } from "@credits/core";
import { sessions, users } from "@credits/db/schema";
import { expect } from "vitest";
import { startTestServer, testDb } from "./harness.ts";

export const { db } = testDb;
export const PUBLIC_URL = "http://localhost:3000";
export const ALLOWED_ORIGIN = "https://app.example";
export const server = await startTestServer({ CORS_ORIGINS: ALLOWED_ORIGIN });
export const production = await startTestServer({ NODE_ENV: "production", ALLOW_LOCAL_PAYMENTS: "true" });

export const PASSWORD = "correct horse battery";
export const DAY_MS = 24 * 60 * 60 * 1000;

export interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON, asserted field by field
  body: any;
}

export async function call(
  method: string,
  path: string,
  options: { body?: unknown; cookie?: string; headers?: Record<string, string>; base?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers["content-type"] ??= "application/json";
  if (options.cookie) headers.cookie = options.cookie;
  const response = await fetch(`${options.base ?? server.url}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? null : JSON.parse(text) };
}

export interface SetCookie {
  name: string;
  value: string;
  attributes: Map<string, string>;
}

export function parseSetCookie(header: string): SetCookie {
  const [pair = "", ...rest] = header.split(";").map((part) => part.trim());
  const at = pair.indexOf("=");
  const attributes = new Map<string, string>();
  for (const attribute of rest) {
    const eq = attribute.indexOf("=");
    const key = (eq < 0 ? attribute : attribute.slice(0, eq)).toLowerCase();
    attributes.set(key, eq < 0 ? "" : attribute.slice(eq + 1));
  }
  return { name: pair.slice(0, at), value: pair.slice(at + 1), attributes };
}

export function onlyCookie(reply: Reply): SetCookie {
  const cookies = reply.headers.getSetCookie();
  expect(cookies).toHaveLength(1);
  return parseSetCookie(cookies[0] ?? "");
}

export const newEmail = () => `sessions-${randomUUID()}@example.test`;

export async function signUp(base = server.url): Promise<{ id: string; email: string; token: string; cookie: string }> {
  const email = newEmail();
  const reply = await call("POST", "/api/v1/auth/signup", { base, body: { email, password: PASSWORD } });
  expect(reply.status).toBe(201);
  const cookie = onlyCookie(reply);
  return { id: reply.body.user.id, email, token: cookie.value, cookie: `${cookie.name}=${cookie.value}` };
}

export async function logIn(email: string): Promise<{ token: string; cookie: string }> {
  const reply = await call("POST", "/api/v1/auth/login", { body: { email, password: PASSWORD } });
  expect(reply.status).toBe(200);
  const cookie = onlyCookie(reply);
  expect(cookie.name).toBe("session");
  return { token: cookie.value, cookie: `session=${cookie.value}` };
}

export const meStatus = async (cookie: string, base = server.url) =>
  (await call("GET", "/api/v1/me", { cookie, base })).status;

export async function sessionRow(token: string) {
  const rows = await db.select().from(sessions);
  return rows.find((row) => row.id === sessionIdOf(token)) ?? null;
}

export async function balanceOf(userId: string): Promise<number> {
  const row = (await db.select({ id: users.id, balance: users.creditsBalance }).from(users)).find(
    (r) => r.id === userId,
  );
  if (!row) throw new Error(`no user ${userId}`);
  return row.balance;
}
