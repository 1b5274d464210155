// A webhook receiver for tests: a real HTTP server on loopback that verifies every request's
// Standard Webhooks signature with the `standardwebhooks` package (as a customer's service would)
// and answers from a script of status codes.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, expect } from "vitest";
import type { RunningServer } from "../src/main.ts";
import { call } from "./http-call.ts";

export const PASSWORD = "correct horse battery";

export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  payload: { type: string; timestamp: string; data: Record<string, unknown> };
  headers: IncomingHttpHeaders;
}

// `statuses` answers the requests in order; past its end, the last one. `secret` is set once the
// endpoint is registered; each request must verify with it.
export async function startReceiver(statuses: number[] = [200]) {
  const received: Received[] = [];
  const state = { secrets: [] as string[], statuses };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const headers = request.headers as Record<string, string>;
      for (const secret of state.secrets) new Webhook(secret).verify(body, headers);
      received.push({
        id: headers["webhook-id"] ?? "",
        timestamp: headers["webhook-timestamp"] ?? "",
        signature: headers["webhook-signature"] ?? "",
        body,
        payload: JSON.parse(body),
        headers: request.headers,
      });
      const status = state.statuses[received.length - 1] ?? state.statuses.at(-1) ?? 200;
      response.writeHead(status, { "content-type": "text/plain" }).end(`answer ${received.length}\u0007 ok`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks`, received, state };
}

export async function adminSession(server: RunningServer): Promise<{ id: string; cookie: string }> {
  const email = `admin-${randomUUID()}@example.test`;
  const user = await server.services.auth.createUser({ email, password: PASSWORD, role: "admin" });
  const login = await call(server.url, "POST", "/api/v1/auth/login", { body: { email, password: PASSWORD } });
  expect(login.status).toBe(200);
  return { id: user.id, cookie: login.headers.getSetCookie()[0]?.split(";")[0] ?? "" };
}

export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
