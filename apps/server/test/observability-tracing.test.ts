// Traces through real HTTP, recorded by an in-memory exporter registered in this test process
// (the same SDK set-up as the --import preload, with its HTTP instrumentation): a signed webhook's
// trace holds the HTTP server span, the webhook span, the payment service span and the ledger
// posting; the checkout's trace holds the Stripe API calls; the request log line carries the
// trace id.
import { captureLogs, createTestTracing } from "@credits/observability/testing";
import { afterAll, describe, expect, it, vi } from "vitest";
import { scrape } from "./observability-helpers.ts";
import {
  call,
  deliver,
  pack,
  sessionEvent,
  sessionIdOf,
  signUp,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./payments/helpers.ts";

// Before the server starts: its http.Server must be created after the instrumentation is in.
const tracing = createTestTracing();
afterAll(() => tracing.shutdown());
const logs = captureLogs();
afterAll(() => logs.stop());

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);

type Span = ReturnType<typeof tracing.spans>[number];
const parentOf = (span: Span) => span.parentSpanContext?.spanId;

// True when `ancestor` is on `span`'s parent chain within the same trace.
function descendsFrom(span: Span, ancestor: Span, all: Span[]): boolean {
  const byId = new Map(all.map((s) => [s.spanContext().spanId, s]));
  let current: Span | undefined = span;
  while (current) {
    const parentId = parentOf(current);
    if (parentId === ancestor.spanContext().spanId) return true;
    current = parentId ? byId.get(parentId) : undefined;
  }
  return false;
}

async function buy() {
  const standard = await pack("standard");
  const buyer = await signUp(server.url, "traced");
  const reply = await call(server.url, "POST", "/api/v1/checkout", {
    cookie: buyer.cookie,
    body: { packageId: standard.id },
  });
  expect(reply.status).toBe(201);
  return { buyer, standard, paymentId: reply.body.paymentId as string, sessionId: sessionIdOf(reply.body.checkoutUrl) };
}

describe("tracing", () => {
  it("a webhook request's trace contains the webhook span, the payment handling and the ledger posting", async () => {
    const { sessionId, standard } = await buy();
    tracing.reset();
    const event = sessionEvent(mock, sessionId, "checkout.session.completed");
    const reply = await deliver(server.url, event);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ received: true, outcome: "processed" });

    const webhook = await vi.waitFor(() => {
      const found = tracing.spans().find((span) => span.name === "webhook stripe");
      if (!found) throw new Error("no webhook span yet");
      return found;
    });
    expect(webhook.attributes).toMatchObject({
      "app.webhook.event_id": event.id,
      "app.webhook.event_type": "checkout.completed",
      "app.webhook.outcome": "processed",
    });
    const traceId = webhook.spanContext().traceId;
    const inTrace = await vi.waitFor(() => {
      const spans = tracing.trace(traceId);
      if (!spans.some((span) => span.name === "POST /webhooks/stripe")) throw new Error("server span not ended yet");
      return spans;
    });
    const names = inTrace.map((span) => span.name);
    expect(names).toEqual(expect.arrayContaining(["POST /webhooks/stripe", "payments.handleEvent", "ledger.post"]));

    const server_ = inTrace.find((span) => span.name === "POST /webhooks/stripe") as Span;
    expect(server_.attributes["http.route"]).toBe("/webhooks/stripe");
    const ledger = inTrace.find((span) => span.name === "ledger.post") as Span;
    expect(ledger.attributes).toMatchObject({
      "app.ledger.kind": "purchase",
      "app.credits": standard.credits,
      "app.ledger.posted": true,
    });
    expect(descendsFrom(ledger, webhook, inTrace)).toBe(true);
    expect(descendsFrom(webhook, server_, inTrace)).toBe(true);

    // The request's log line carries the same trace id.
    const line = logs.entries().find((entry) => entry.route === "/webhooks/stripe" && entry.traceId === traceId);
    expect(line).toMatchObject({ msg: "request", status: 200, traceId });
  });

  it("a duplicate delivery is its own span, outcome duplicate, with no ledger posting written", async () => {
    const { sessionId } = await buy();
    const event = sessionEvent(mock, sessionId, "checkout.session.completed");
    expect((await deliver(server.url, event)).status).toBe(200);
    tracing.reset();
    expect((await deliver(server.url, event)).body).toEqual({ received: true, outcome: "duplicate" });
    const webhook = await vi.waitFor(() => {
      const found = tracing.spans().find((span) => span.name === "webhook stripe");
      if (!found) throw new Error("no webhook span yet");
      return found;
    });
    expect(webhook.attributes["app.webhook.outcome"]).toBe("duplicate");
    const metrics = await scrape(server.url);
    expect(metrics.value("webhook_events_total", { type: "checkout.completed", outcome: "duplicate" })).toBeGreaterThan(
      0,
    );
  });

  it("each Stripe API call of a checkout is a span inside the request's trace", async () => {
    tracing.reset();
    await buy();
    const created = await vi.waitFor(() => {
      const found = tracing.spans().find((span) => span.name === "stripe checkout session create");
      if (!found) throw new Error("no stripe span yet");
      return found;
    });
    const traceId = created.spanContext().traceId;
    const spans = await vi.waitFor(() => {
      const all = tracing.trace(traceId);
      if (!all.some((span) => span.name === "POST /api/v1/checkout")) throw new Error("server span not ended yet");
      return all;
    });
    const names = spans.map((span) => span.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "POST /api/v1/checkout",
        "payments.createCheckout",
        "stripe customer create",
        "stripe checkout session create",
      ]),
    );
    const checkout = spans.find((span) => span.name === "payments.createCheckout") as Span;
    expect(descendsFrom(created, checkout, spans)).toBe(true);
  });

  it("a reconciliation run is a span, with the Stripe listings inside it", async () => {
    tracing.reset();
    const run = await server.services.reconciliation.run({ trigger: "manual" });
    expect(run?.status).toBe("succeeded");
    const spans = tracing.spans();
    const root = spans.find((span) => span.name === "reconciliation.run");
    expect(root).toBeDefined();
    const listing = spans.find((span) => span.name === "stripe checkout session list");
    expect(listing).toBeDefined();
    expect(descendsFrom(listing as Span, root as Span, spans)).toBe(true);
    expect(listing?.attributes["app.items"]).toEqual(expect.any(Number));
  });

  it("credit operations called directly are spans too (the services are traced at composition)", async () => {
    const user = await signUp(server.url, "direct");
    tracing.reset();
    await server.services.credits.grant({
      scope: { kind: "user", id: "test" },
      userId: user.id,
      amount: 3,
      idempotencyKey: `t-${user.id}`,
      reason: "t",
    });
    const grant = tracing.spans().find((span) => span.name === "credits.grant");
    expect(grant?.attributes).toMatchObject({ "app.user_id": user.id, "app.credits": 3 });
    // Never the reason or other free text.
    expect(JSON.stringify(grant?.attributes)).not.toContain('"t"');
  });
});
