// The HTTP server's timeouts (above load balancers' idle timeouts) and /metrics behind a proxy.
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { startTestServer } from "./harness.ts";

const METRICS_TOKEN = "a-metrics-token-of-some-length";

// One keep-alive request on a raw socket; resolves with how long the server kept it open after the
// response (or null if still open after `waitMs`).
function idleLifetime(url: string, waitMs: number): Promise<number | null> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answeredAt = 0;
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      if (!answeredAt && chunk.toString().startsWith("HTTP/1.1 200")) answeredAt = performance.now();
    });
    socket.on("close", () => resolve(answeredAt ? performance.now() - answeredAt : -1));
    socket.write(`GET /healthz HTTP/1.1\r\nHost: ${hostname}\r\nConnection: keep-alive\r\n\r\n`);
    setTimeout(() => {
      if (socket.destroyed) return;
      socket.destroy();
      resolve(null);
    }, waitMs).unref();
  });
}

describe("HTTP server timeouts", () => {
  it("default to 65 s keep-alive, 66 s headers and 120 s per request", async () => {
    const server = await startTestServer();
    const { keepAliveTimeout, headersTimeout, requestTimeout } = server.httpServer;
    expect({ keepAliveTimeout, headersTimeout, requestTimeout }).toEqual({
      keepAliveTimeout: 65_000,
      headersTimeout: 66_000,
      requestTimeout: 120_000,
    });
  });

  it("take their values from the environment, and the server keeps to them", async () => {
    const server = await startTestServer({
      HTTP_KEEP_ALIVE_TIMEOUT_MS: "300",
      HTTP_HEADERS_TIMEOUT_MS: "1000",
      HTTP_REQUEST_TIMEOUT_MS: "2000",
    });
    expect(server.httpServer.keepAliveTimeout).toBe(300);
    expect(server.httpServer.headersTimeout).toBe(1_000);
    expect(server.httpServer.requestTimeout).toBe(2_000);
    const lifetime = await idleLifetime(server.url, 5_000);
    expect(lifetime).not.toBeNull();
    expect(lifetime).toBeGreaterThanOrEqual(200);
    expect(lifetime).toBeLessThan(2_000);
  });
});

describe("/metrics in production", () => {
  const forwarded: Record<string, string>[] = [
    { "x-forwarded-for": "203.0.113.9" },
    { forwarded: "for=203.0.113.9;proto=https" },
    { "x-real-ip": "203.0.113.9" },
    { via: "1.1 nginx" },
    { "x-forwarded-proto": "https" },
  ];

  it("without a token, refuses requests a proxy forwarded, and serves a local scraper", async () => {
    const server = await startTestServer({ NODE_ENV: "production", ALLOW_LOCAL_PAYMENTS: "true" });
    expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
    for (const headers of forwarded) {
      const reply = await fetch(`${server.url}/metrics`, { headers });
      expect(reply.status, JSON.stringify(headers)).toBe(403);
      expect(await reply.json()).toEqual({ error: { code: "FORBIDDEN", message: expect.stringContaining("proxy") } });
    }
  });

  it("with a token, serves forwarded requests that carry it, and only those", async () => {
    const server = await startTestServer({ NODE_ENV: "production", ALLOW_LOCAL_PAYMENTS: "true", METRICS_TOKEN });
    const headers = { "x-forwarded-for": "203.0.113.9" };
    expect((await fetch(`${server.url}/metrics`, { headers })).status).toBe(401);
    const scraped = await fetch(`${server.url}/metrics`, {
      headers: { ...headers, authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(scraped.status).toBe(200);
  });
});

describe("requests Node's parser refuses", () => {
  // The raw answer to what was written on one socket.
  function rawAnswer(url: string, request: string): Promise<string> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname);
      let answer = "";
      socket.on("error", reject);
      socket.on("data", (chunk) => {
        answer += chunk.toString();
      });
      socket.on("close", () => resolve(answer));
      socket.write(request);
    });
  }

  it("answer in the { error } shape: an oversized head 431, a malformed request 400", async () => {
    const server = await startTestServer();
    const huge = await rawAnswer(server.url, `GET /api/v1/me?x=${"x".repeat(100_000)} HTTP/1.1\r\nHost: a\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(huge.split("\r\n\r\n")[1] ?? "")).toEqual({
      error: { code: "HEADERS_TOO_LARGE", message: "request headers (or URL) too large" },
    });
    const garbage = await rawAnswer(server.url, "NOT A REQUEST\r\n\r\n");
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(garbage.split("\r\n\r\n")[1] ?? "").error.code).toBe("BAD_REQUEST");
  });
});
