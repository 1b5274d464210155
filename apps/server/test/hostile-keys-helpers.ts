import { randomUUID } from "node:crypto";
import type { RunningServer } from "../src/main.ts";
import { testDb } from "./harness.ts";

export const PASSWORD = "correct horse battery staple";

export interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON, asserted field by field
  body: any;
}

export interface Credentials {
  cookie?: string;
  key?: string;
}

export function client(server: RunningServer) {
  async function send(method: string, path: string, as: Credentials, body?: unknown): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (as.cookie) headers.cookie = as.cookie;
    if (as.key) headers.authorization = `Bearer ${as.key}`;
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text === "" ? null : JSON.parse(text) };
  }

  // A signed-in person; admins are made through the services (no API makes an admin).
  async function person(role: "user" | "admin" = "user"): Promise<{ id: string; email: string; cookie: string }> {
    const email = `${role}-${randomUUID()}@example.test`;
    const user = await server.services.auth.createUser({ email, password: PASSWORD, role });
    const login = await send("POST", "/api/v1/auth/login", {}, { email, password: PASSWORD });
    if (login.status !== 200) throw new Error(`log-in failed: ${login.status}`);
    const cookie = login.headers.getSetCookie()[0]?.split(";")[0] ?? "";
    return { id: user.id, email, cookie };
  }

  async function createKey(
    admin: Credentials,
    scopes: string[],
    limits?: Record<string, number>,
  ): Promise<{ id: string; key: string; prefix: string }> {
    const reply = await send("POST", "/api/v1/admin/api-keys", admin, {
      name: `hostile ${randomUUID().slice(0, 8)}`,
      scopes,
      ...(limits ? { limits } : {}),
    });
    if (reply.status !== 200) throw new Error(`key not created: ${JSON.stringify(reply.body)}`);
    return reply.body;
  }

  const grant = (key: string, userId: string, amount: number, idempotencyKey = randomUUID()) =>
    send("POST", "/api/v1/credits/grant", { key }, { userId, amount, idempotencyKey, reason: "hostile" });

  const spend = (key: string, userId: string, amount: number, idempotencyKey = randomUUID()) =>
    send("POST", "/api/v1/credits/spend", { key }, { userId, amount, idempotencyKey });

  const balance = async (userId: string) => (await server.services.credits.balance(userId)) as number;

  return { send, person, createKey, grant, spend, balance };
}

export const { db } = testDb;
