import { randomUUID } from "node:crypto";
import { request as httpRequest } from "node:http";
import { createServer } from "node:net";
import { parseEnv } from "@credits/env";
import { createWebApp, type WebApp } from "@credits/web/server";
import buildWebApp from "@credits/web/testing";
import { afterAll, expect } from "vitest";
import { type RunningServer, startServer } from "../src/main.ts";
import { testDb } from "./harness.ts";

export const PASSWORD = "correct horse battery";

// The real server with the web app, as `pnpm start` runs it: production mode (the local provider
// allowed, as a demo would), on a port chosen first so that PUBLIC_URL is the address we call.
export async function startWebServer(
  mode: "production" | "development",
  overrides: Record<string, string> = {},
  // The server's own lines (start-up); dropped unless a test reads them.
  log: (line: string) => void = () => {},
): Promise<RunningServer & { hmrPort: number }> {
  if (mode === "production") buildWebApp();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = parseEnv({
    NODE_ENV: mode === "production" ? "production" : "test",
    ALLOW_LOCAL_PAYMENTS: "true",
    PORT: String(port),
    HOST: "127.0.0.1",
    PUBLIC_URL: url,
    AUTH_RATE_LIMIT_PER_MINUTE: "100000",
    ...overrides,
  });
  // Vite's HMR websocket (development) on a free port, not its fixed default.
  const hmrPort = await freePort();
  const web: WebApp = await createWebApp({ mode, hmrPort });
  const server = await startServer(env, { database: testDb, web, log });
  afterAll(async () => {
    await server.close();
    await web.close();
  });
  return { ...server, url, hmrPort };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export interface User {
  id: string;
  email: string;
  cookie: string;
}

export async function signUp(base: string): Promise<User> {
  const email = `hostile-${randomUUID()}@example.test`;
  const reply = await fetch(`${base}/api/v1/auth/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(reply.status).toBe(201);
  const [cookie = ""] = reply.headers.getSetCookie();
  const body = (await reply.json()) as { user: { id: string } };
  return { id: body.user.id, email, cookie: cookie.split(";")[0] ?? "" };
}

export const meStatus = async (base: string, cookie: string) =>
  (await fetch(`${base}/api/v1/me`, { headers: { cookie } })).status;

// A form post as a browser sends it (redirects not followed: their Location is what we check).
export function postForm(
  base: string,
  path: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

// Sends `totalBytes` of form body, declared by Content-Length or chunked (no length), and resolves
// with the status as soon as the server answers: a server that refuses early never reads it all.
export function postLargeBody(
  url: string,
  totalBytes: number,
  { chunked, headers = {} }: { chunked: boolean; headers?: Record<string, string> },
): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, "a");
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...(chunked ? {} : { "content-length": String(totalBytes) }),
        ...headers,
      },
    });
    request.on("response", (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
      request.destroy();
    });
    // After the answer, an error from the rest of the write changes nothing (already resolved).
    request.on("error", reject);
    let sent = 0;
    const pump = () => {
      while (sent < totalBytes && !request.destroyed) {
        sent += chunk.length;
        if (!request.write(chunk)) return request.once("drain", pump);
      }
      if (!request.destroyed) request.end();
    };
    pump();
  });
}
