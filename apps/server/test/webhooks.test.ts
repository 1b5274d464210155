// Outbound webhooks through the real servers over real HTTP: two server instances on one database
// (both running the delivery worker), receivers that verify every signature with the
// `standardwebhooks` package, endpoints registered, replayed and rotated through the REST API.
import { randomUUID } from "node:crypto";
import { MAX_WEBHOOK_URL_LENGTH } from "@credits/core";
import { adminActions, users, webhookEndpoints } from "@credits/db/schema";
import { eq } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterAll, describe, expect, it } from "vitest";
import { startTestServer, testDb } from "./harness.ts";
import { call } from "./http-call.ts";
import { startSmtpCapture } from "./notify/smtp-capture.ts";
import { adminSession, type Received, startReceiver, waitFor } from "./webhooks-helpers.ts";

// Admins' alert mail (an endpoint disabled) goes to a real SMTP server in the test process.
const smtp = await startSmtpCapture();
afterAll(() => smtp.close());
const fast = {
  SMTP_URL: smtp.url,
  MAIL_POLL_INTERVAL_MS: "100",
  OUTBOUND_WEBHOOKS_ALLOW_PRIVATE: "true",
  WEBHOOK_WORKER_ENABLED: "true",
  WEBHOOK_POLL_INTERVAL_MS: "20",
  WEBHOOK_RETRY_BASE_MS: "20",
  WEBHOOK_RETRY_MAX_MS: "40",
  WEBHOOK_MAX_ATTEMPTS: "3",
  WEBHOOK_DISABLE_AFTER_FAILED_DELIVERIES: "2",
  WEBHOOK_TIMEOUT_MS: "2000",
  ADMIN_APPROVAL_THRESHOLD: "10",
};
const one = await startTestServer(fast);
const two = await startTestServer(fast);
const admin = await adminSession(one);
const { db } = testDb;

async function register(url: string, events = ["adjustment.pending"]) {
  const reply = await call(one.url, "POST", "/api/v1/admin/webhook-endpoints", {
    cookie: admin.cookie,
    body: { url, events },
  });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body as { id: string; secret: string };
}

// An adjustment above the threshold: the request is filed and adjustment.pending is written with it.
async function fileAdjustment(base = one.url): Promise<string> {
  const target = await one.services.auth.createUser({
    email: `u-${randomUUID()}@example.test`,
    password: "correct horse battery",
    role: "user",
  });
  const reply = await call(base, "POST", "/api/v1/admin/adjust", {
    cookie: admin.cookie,
    body: { userId: target.id, amount: 50, reason: "goodwill", idempotencyKey: randomUUID() },
  });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body.adjustmentRequest.id as string;
}

const about = (received: Received[], requestId: string) =>
  received.filter((r) => r.payload.data.adjustmentRequestId === requestId);

const deliveriesOf = async (endpointId: string) => {
  const reply = await call(one.url, "GET", `/api/v1/admin/webhook-endpoints/${endpointId}/deliveries`, {
    cookie: admin.cookie,
  });
  expect(reply.status).toBe(200);
  return reply.body.deliveries as Array<Record<string, unknown> & { log: Array<Record<string, unknown>> }>;
};

const disable = (id: string) =>
  call(one.url, "POST", `/api/v1/admin/webhook-endpoints/${id}/disable`, { cookie: admin.cookie });

describe("outbound webhooks", () => {
  it("registers an endpoint: the whsec_ secret once, never in the list", async () => {
    const receiver = await startReceiver();
    const { id, secret } = await register(receiver.url);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const list = await call(one.url, "GET", "/api/v1/admin/webhook-endpoints", { cookie: admin.cookie });
    expect(list.status).toBe(200);
    expect(list.body.endpoints).toContainEqual(
      expect.objectContaining({ id, url: receiver.url, events: ["adjustment.pending"], status: "enabled" }),
    );
    expect(JSON.stringify(list.body)).not.toContain("whsec_");
    expect((await disable(id)).status).toBe(200);
  });

  it(`takes a URL of ${MAX_WEBHOOK_URL_LENGTH} characters, and refuses one longer (400, nothing stored)`, async () => {
    const base = "http://127.0.0.1:9/";
    const atLimit = `${base}${"a".repeat(MAX_WEBHOOK_URL_LENGTH - base.length)}`;
    const before = await db.$count(webhookEndpoints);
    const over = await call(one.url, "POST", "/api/v1/admin/webhook-endpoints", {
      cookie: admin.cookie,
      body: { url: `${atLimit}a`, events: ["adjustment.pending"] },
    });
    expect(over.status).toBe(400);
    expect(over.body.error.code).toBe("INVALID_INPUT");
    expect(await db.$count(webhookEndpoints)).toBe(before);
    const { id } = await register(atLimit);
    expect((await disable(id)).status).toBe(200);
  });

  it("retries a failing receiver: 500, 500, then 200, three signed attempts with one webhook-id", async () => {
    const receiver = await startReceiver([500, 500, 200]);
    const { id, secret } = await register(receiver.url);
    receiver.state.secrets = [secret];
    const requestId = await fileAdjustment();
    const attempts = await waitFor(() => {
      const mine = about(receiver.received, requestId);
      return mine.length >= 3 ? mine : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(about(receiver.received, requestId)).toHaveLength(3);
    const [first] = attempts;
    expect(new Set(attempts.map((a) => a.id))).toEqual(new Set([first?.id]));
    expect(first?.id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(first?.payload).toEqual({
      type: "adjustment.pending",
      timestamp: expect.stringMatching(/Z$/),
      data: expect.objectContaining({ adjustmentRequestId: requestId, amount: 50, requestedBy: admin.id }),
    });
    // The same bytes each time; a tampered body fails verification.
    expect(new Set(attempts.map((a) => a.body)).size).toBe(1);
    expect(() => new Webhook(secret).verify(`${first?.body} `, first?.headers as Record<string, string>)).toThrow();

    const [delivery] = (await deliveriesOf(id)).filter((d) => d.eventId === first?.id);
    expect(delivery).toMatchObject({ status: "succeeded", attempts: 3, lastStatusCode: 200 });
    expect(delivery?.log.map((a) => a.statusCode)).toEqual([500, 500, 200]);
    for (const attempt of delivery?.log ?? []) {
      expect(attempt.latencyMs).toEqual(expect.any(Number));
      // Bounded and sanitized: the receiver's BEL character is gone.
      expect(attempt.responseExcerpt).toMatch(/^answer \d+ {2}ok$/);
    }

    // Replay from the API: delivered again with the same webhook-id.
    const replay = await call(one.url, "POST", `/api/v1/admin/webhook-deliveries/${delivery?.id}/replay`, {
      cookie: admin.cookie,
    });
    expect(replay.status, JSON.stringify(replay.body)).toBe(200);
    await waitFor(() => (about(receiver.received, requestId).length === 4 ? true : undefined));
    expect(about(receiver.received, requestId)[3]?.id).toBe(first?.id);
    expect((await disable(id)).status).toBe(200);
  });

  it("two server instances deliver each event exactly once", async () => {
    const receiver = await startReceiver([200]);
    const { id, secret } = await register(receiver.url);
    receiver.state.secrets = [secret];
    const filed = await Promise.all(
      Array.from({ length: 12 }, (_, i) => fileAdjustment(i % 2 === 0 ? one.url : two.url)),
    );
    await waitFor(() => (filed.every((r) => about(receiver.received, r).length > 0) ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const requestId of filed) expect(about(receiver.received, requestId)).toHaveLength(1);
    const ids = receiver.received.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect((await disable(id)).status).toBe(200);
  });

  it("after a rotation both secrets sign during the overlap: a receiver with either verifies", async () => {
    const receiver = await startReceiver([200]);
    const { id, secret: old } = await register(receiver.url);
    const rotated = await call(one.url, "POST", `/api/v1/admin/webhook-endpoints/${id}/rotate-secret`, {
      cookie: admin.cookie,
    });
    expect(rotated.status).toBe(200);
    const fresh = rotated.body.secret as string;
    expect(fresh).not.toBe(old);
    expect(rotated.body.endpoint.previousSecretExpiresAt).toEqual(expect.any(String));
    const requestId = await fileAdjustment();
    const [got] = await waitFor(() => {
      const mine = about(receiver.received, requestId);
      return mine.length > 0 ? mine : undefined;
    });
    expect(got?.signature.split(" ")).toHaveLength(2);
    const headers = got?.headers as Record<string, string>;
    expect(new Webhook(old).verify(got?.body ?? "", headers)).toEqual(got?.payload);
    expect(new Webhook(fresh).verify(got?.body ?? "", headers)).toEqual(got?.payload);
    expect((await disable(id)).status).toBe(200);
  });

  it("disables an endpoint after repeated failed deliveries and records it for admins", async () => {
    const receiver = await startReceiver([503]);
    const { id } = await register(receiver.url);
    const filed = [await fileAdjustment(), await fileAdjustment()];
    const endpoint = await waitFor(async () => {
      const list = await call(one.url, "GET", "/api/v1/admin/webhook-endpoints", { cookie: admin.cookie });
      const found = list.body.endpoints.find((e: { id: string }) => e.id === id);
      return found?.status === "disabled" ? found : undefined;
    });
    expect(endpoint).toMatchObject({ failedDeliveries: 2, disabledReason: expect.stringContaining("2 failed") });
    for (const requestId of filed) expect(about(receiver.received, requestId)).toHaveLength(3);
    const audit = await db.select().from(adminActions).where(eq(adminActions.action, "webhook_endpoint.auto_disabled"));
    expect(audit).toContainEqual(
      expect.objectContaining({ actorId: null, detail: expect.objectContaining({ endpointId: id }) }),
    );
    // Every admin is told by mail, once: the second instance's sender finds it sent.
    const [me] = await db.select({ email: users.email }).from(users).where(eq(users.id, admin.id));
    const alerts = () => smtp.received.filter((mail) => mail.to && "text" in mail.to && mail.to.text === me?.email);
    const [alert] = await waitFor(() => (alerts().length > 0 ? alerts() : undefined));
    expect(alert?.subject).toBe(`Webhook endpoint disabled: ${new URL(receiver.url).host}`);
    expect(alert?.text).toContain("after 2 failed deliveries in a row");
    // The host only: an endpoint's path or query may carry a token.
    expect(alert?.text).not.toContain("/hooks");
    // Disabled: new events are no longer delivered to it.
    const later = await fileAdjustment();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(about(receiver.received, later)).toEqual([]);
    expect(alerts()).toHaveLength(1);
  });
});
