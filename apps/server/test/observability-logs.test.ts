// Logs and errors through real HTTP: one JSON line per request (request id echoed, user id, route
// pattern, status, duration; never the email); an unhandled error is logged with its trace id,
// counted, reported to ERROR_WEBHOOK_URL (redacted, without holding up the response) and answered
// with { error: { code: "INTERNAL", message, requestId } } only; error bodies are redacted like
// logs; and, last, everything this process logged is scanned for secrets and personal data.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { captureLogs, createTestTracing } from "@credits/observability/testing";
import { afterAll, describe, expect, it, vi } from "vitest";
import { findLeaks } from "./observability.global-setup.ts";
import { scrape } from "./observability-helpers.ts";
import { signUp, startTestServer } from "./payments/helpers.ts";

const tracing = createTestTracing();
afterAll(() => tracing.shutdown());
const logs = captureLogs();
afterAll(() => logs.stop());

// The error hook's receiver: records each report; holds its answer while `hold` is set.
interface Received {
  body: string;
  at: number;
}
const received: Received[] = [];
let hold: Promise<void> | null = null;
const receiver: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
  let body = "";
  req.on("data", (chunk: Buffer) => {
    body += chunk.toString();
  });
  req.on("end", async () => {
    received.push({ body, at: performance.now() });
    await hold;
    res.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/errors`;

const server = await startTestServer({ ERROR_WEBHOOK_URL: receiverUrl, ERROR_WEBHOOK_TIMEOUT_MS: "500" });

const SECRET_MESSAGE =
  "boom for alice@example.com: key sk_live_51Habcdefghijklmnop, hook whsec_abcdefghij123456, card 4242 4242 4242 4242";

describe("request logs", () => {
  it("one line per request: request id (echoed), user id, route pattern, status, duration; no email", async () => {
    const user = await signUp(server.url, "logged");
    const before = logs.lines.length;
    const response = await fetch(`${server.url}/api/v1/me/credits?limit=5`, {
      headers: { cookie: user.cookie, "x-request-id": "obs-test-req-1" },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-request-id")).toBe("obs-test-req-1");

    const lines = logs.entries().slice(before);
    const line = lines.find((entry) => entry.requestId === "obs-test-req-1");
    expect(line).toMatchObject({
      level: "info",
      msg: "request",
      method: "GET",
      route: "/api/v1/me/credits",
      status: 200,
      userId: user.id,
      durationMs: expect.any(Number),
      traceId: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(JSON.stringify(lines)).not.toContain(user.email);

    // Without an X-Request-Id one is made, echoed and logged.
    const anonymous = await fetch(`${server.url}/api/v1/packages`);
    const generated = anonymous.headers.get("x-request-id");
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    expect(logs.entries().some((entry) => entry.requestId === generated && entry.route === "/api/v1/packages")).toBe(
      true,
    );
  });
});

describe("unhandled errors", () => {
  it("are answered with code, message and request id only; logged with the trace id; counted; reported", async () => {
    const user = await signUp(server.url, "unlucky");
    const metricsBefore = await scrape(server.url);
    let release = () => {};
    hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const spy = vi.spyOn(server.services.credits, "accountOfSession").mockRejectedValue(new Error(SECRET_MESSAGE));
    try {
      const sent = performance.now();
      const response = await fetch(`${server.url}/api/v1/me/credits`, {
        headers: { cookie: user.cookie, "x-request-id": "obs-test-err-1" },
      });
      const answered = performance.now();
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({
        error: { code: "INTERNAL", message: "internal error", requestId: "obs-test-err-1" },
      });

      // The report arrives, redacted, while the receiver has not answered it: it never held the response.
      const report = await vi.waitFor(() => {
        const found = received.find((r) => r.body.includes("obs-test-err-1"));
        if (!found) throw new Error("no report yet");
        return found;
      });
      expect(answered - sent).toBeLessThan(5_000);
      const body = JSON.parse(report.body);
      expect(body).toMatchObject({
        service: expect.any(String),
        where: "rest",
        requestId: "obs-test-err-1",
        route: "credits.mine",
        traceId: expect.stringMatching(/^[0-9a-f]{32}$/),
        // tRPC's wrapper, and the service's own error as its cause (with its stack).
        error: {
          type: "TRPCError",
          message: expect.stringContaining("boom for [email]"),
          cause: { type: "Error", message: expect.stringContaining("[webhook-secret]"), stack: expect.any(String) },
        },
      });
      for (const secret of ["alice@example.com", "sk_live_", "whsec_", "4242 4242"]) {
        expect(report.body).not.toContain(secret);
      }
    } finally {
      spy.mockRestore();
      release();
      hold = null;
    }

    const line = logs.entries().find((entry) => entry.level === "error" && entry.requestId === "obs-test-err-1");
    expect(line).toMatchObject({
      msg: "unhandled error",
      where: "rest",
      traceId: expect.stringMatching(/^[0-9a-f]{32}$/),
      err: { message: expect.stringContaining("[stripe-key]") },
    });
    expect(JSON.stringify(line)).not.toMatch(/alice@example\.com|sk_live_|whsec_|4242 4242/);

    const metricsAfter = await scrape(server.url);
    expect(
      metricsAfter.value("errors_total", { where: "rest" }) - metricsBefore.value("errors_total", { where: "rest" }),
    ).toBe(1);
  });

  it("a receiver that does not answer in time costs a warning, not the response", async () => {
    const user = await signUp(server.url, "unlucky2");
    hold = new Promise<void>(() => {});
    const spy = vi.spyOn(server.services.credits, "accountOfSession").mockRejectedValue(new Error("boom again"));
    try {
      const response = await fetch(`${server.url}/api/v1/me/credits`, {
        headers: { cookie: user.cookie, "x-request-id": "obs-test-err-2" },
      });
      expect(response.status).toBe(500);
      await vi.waitFor(() => {
        if (!logs.entries().some((entry) => entry.msg === "error report not delivered")) throw new Error("not yet");
      });
    } finally {
      spy.mockRestore();
      hold = null;
    }
  });
});

describe("error bodies are redacted like logs", () => {
  it("a 404 that echoes its path does not echo an email or a key", async () => {
    const response = await fetch(`${server.url}/nope/alice@example.com/sk_test_abcdefghijklmnop`);
    expect(response.status).toBe(404);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ error: { code: "NOT_FOUND", message: expect.stringContaining("[email]") } });
    expect(text).not.toContain("alice@example.com");
    expect(text).not.toContain("sk_test_");
  });
});

describe("this process's logs", () => {
  // Last: everything logged above (sign-ups, log-ins, errors with secrets in their messages).
  it("contain no email, Stripe key, webhook secret, session token or password", () => {
    expect(logs.lines.length).toBeGreaterThan(5);
    expect(findLeaks(logs.lines)).toEqual([]);
  });
});
