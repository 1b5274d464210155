// /metrics through real HTTP: the counters move with a purchase (local provider: checkout, then
// the local checkout page's pay button), a spend and a hold; the webhook counter moves on a bad
// signature; figures read at scrape time (holds, reconciliation, pool) are there; and the
// endpoint is protected by its token and, by default, by the loopback rule.
import { randomUUID } from "node:crypto";
import { networkInterfaces } from "node:os";
import { describe, expect, it } from "vitest";
import { isLoopback } from "../src/telemetry.ts";
import { scrape } from "./observability-helpers.ts";
import { adminWithKey, call, pack, postWebhook, signUp, startTestServer, stripeEnv } from "./payments/helpers.ts";

const METRICS_TOKEN = "metrics-token-for-tests-0123456789";

// The local test-mode provider, as on a fresh machine.
const server = await startTestServer();
// Stripe configured (no Stripe API call is made here: a bad signature is refused before any).
const stripeServer = await startTestServer(stripeEnv);

describe("metrics move with the money", () => {
  it("a purchase through the local checkout page counts the credits, the transitions and the requests", async () => {
    const before = await scrape(server.url);
    const standard = await pack("standard");
    const buyer = await signUp(server.url, "metrics");

    const checkout = await call(server.url, "POST", "/api/v1/checkout", {
      cookie: buyer.cookie,
      body: { packageId: standard.id },
    });
    expect(checkout.status).toBe(201);
    const sessionId = new URL(checkout.body.checkoutUrl).pathname.split("/").at(-1);
    const paid = await fetch(`${server.url}/checkout/local/${sessionId}/pay`, { method: "POST", redirect: "manual" });
    expect(paid.status).toBe(303);

    const after = await scrape(server.url);
    const moved = (m: typeof before) => m.value("credits_moved_total", { kind: "purchase", direction: "credit" });
    expect(moved(after) - moved(before)).toBe(standard.credits);
    expect(
      after.value("ledger_postings_total", { kind: "purchase" }) -
        before.value("ledger_postings_total", { kind: "purchase" }),
    ).toBe(1);
    // created → pending → paid (or however the state machine walks it): at least one change, to paid.
    expect(after.value("payment_transitions_total", { to: "paid" })).toBeGreaterThan(
      before.value("payment_transitions_total", { to: "paid" }),
    );
    // Counted under the route pattern, never the raw path.
    const route = (m: typeof before, r: string, status: string) =>
      m.value("http_request_duration_seconds_count", { route: r, status });
    expect(route(after, "/api/v1/checkout", "201") - route(before, "/api/v1/checkout", "201")).toBe(1);
    expect(
      route(after, "/checkout/local/:sessionId/:outcome", "303") -
        route(before, "/checkout/local/:sessionId/:outcome", "303"),
    ).toBe(1);
    expect(after.text).not.toContain(String(sessionId));
    expect(after.text).not.toContain(buyer.id);
  });

  it("a spend with an API key counts the debited credits; an open hold shows in the gauge", async () => {
    const { key } = await adminWithKey(server, ["credits:spend", "credits:grant"]);
    const user = await signUp(server.url, "spender");
    const grant = await call(server.url, "POST", "/api/v1/credits/grant", {
      key,
      body: { userId: user.id, amount: 50, idempotencyKey: randomUUID(), reason: "metrics test" },
    });
    expect(grant.status).toBe(200);

    const before = await scrape(server.url);
    const spend = await call(server.url, "POST", "/api/v1/credits/spend", {
      key,
      body: { userId: user.id, amount: 7, idempotencyKey: randomUUID(), reason: "metrics test" },
    });
    expect(spend.status).toBe(200);
    const hold = await call(server.url, "POST", "/api/v1/credits/holds", {
      key,
      body: { userId: user.id, amount: 5, idempotencyKey: randomUUID() },
    });
    expect(hold.status).toBe(200);
    const after = await scrape(server.url);

    const debited = (m: typeof before) => m.value("credits_moved_total", { kind: "spend", direction: "debit" });
    expect(debited(after) - debited(before)).toBe(7);
    expect(
      after.value("credits_moved_total", { kind: "hold" }) - before.value("credits_moved_total", { kind: "hold" }),
    ).toBe(5);
    // The spend ran alone (group commit, ADR 006): one more statement of one posting.
    expect(after.value("ledger_batch_postings_count") - before.value("ledger_batch_postings_count")).toBe(1);
    expect(after.value("ledger_batch_postings_sum") - before.value("ledger_batch_postings_sum")).toBe(1);
    expect(after.value("credit_holds_open") - before.value("credit_holds_open")).toBe(1);
    expect(after.value("credit_holds_open_credits") - before.value("credit_holds_open_credits")).toBe(5);
    expect(
      after.value("http_request_duration_seconds_count", { route: "/api/v1/credits/spend", status: "200" }),
    ).toBeGreaterThan(0);
  });

  it("a webhook with a bad signature is counted as bad_signature", async () => {
    const before = await scrape(stripeServer.url);
    const body = JSON.stringify({ id: "evt_bad", type: "checkout.session.completed" });
    const reply = await postWebhook(stripeServer.url, body, "t=1,v1=deadbeef");
    expect(reply.status).toBe(400);
    const unsigned = await postWebhook(stripeServer.url, body, null);
    expect(unsigned.status).toBe(400);
    const after = await scrape(stripeServer.url);
    const bad = (m: typeof before) => m.value("webhook_events_total", { outcome: "bad_signature" });
    expect(bad(after) - bad(before)).toBe(2);
  });

  it("shows reconciliation, pool and process figures", async () => {
    const before = await scrape(server.url);
    expect(before.value("db_pool_max_connections")).toBeGreaterThanOrEqual(1);
    expect(before.has("db_queries_in_flight")).toBe(true);
    expect(before.has("process_cpu_user_seconds_total")).toBe(true);
    expect(before.has("nodejs_eventloop_lag_seconds")).toBe(true);

    const run = await server.services.reconciliation.run({ trigger: "manual" });
    expect(run?.status).toBe("succeeded");
    const after = await scrape(server.url);
    const finishedAt = run?.finishedAt?.getTime() ?? 0;
    expect(after.value("reconciliation_last_success_timestamp_seconds")).toBeCloseTo(finishedAt / 1000, 2);
    expect(after.text).toMatch(/^reconciliation_findings\{kind="missing_credit"\} \d+$/m);
  });
});

describe("access to /metrics", () => {
  it("with METRICS_TOKEN set, answers only with that Bearer token", async () => {
    const guarded = await startTestServer({ METRICS_TOKEN });
    expect((await fetch(`${guarded.url}/metrics`)).status).toBe(401);
    const wrong = await fetch(`${guarded.url}/metrics`, { headers: { authorization: "Bearer not-the-token-at-all" } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toContain("Bearer");
    const body = await wrong.json();
    expect(body).toEqual({ error: { code: "UNAUTHENTICATED", message: expect.any(String) } });
    const right = await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(right.status).toBe(200);
    expect(right.headers.get("content-type")).toContain("text/plain");
    expect(await right.text()).toContain("credits_moved_total");
  });

  it("by default (METRICS_BIND=loopback) serves 127.0.0.1 and refuses any other address", async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address && address.family === "IPv4" && !address.internal)?.address;
    const open = await startTestServer({ HOST: "0.0.0.0" });
    const port = new URL(open.url).port;
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
    if (external) {
      // The same server reached through a non-loopback interface of this machine.
      const refused = await fetch(`http://${external}:${port}/metrics`);
      expect(refused.status).toBe(403);
      const anywhere = await startTestServer({ HOST: "0.0.0.0", METRICS_BIND: "any", METRICS_TOKEN });
      const remote = await fetch(`http://${external}:${new URL(anywhere.url).port}/metrics`, {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      });
      expect(remote.status).toBe(200);
    } else {
      console.log("metrics access: no non-loopback IPv4 interface here, only the loopback side is checked");
    }
  });

  it("recognizes loopback addresses only by the socket address", () => {
    expect(isLoopback("127.0.0.1")).toBe(true);
    expect(isLoopback("::1")).toBe(true);
    expect(isLoopback("::ffff:127.0.0.1")).toBe(true);
    expect(isLoopback("10.0.0.5")).toBe(false);
    expect(isLoopback("::ffff:10.0.0.5")).toBe(false);
    expect(isLoopback(undefined)).toBe(false);
  });
});
