// Review findings on delivery, each shown on the real store: a replay must leave a live claim alone
// (finding 12), and the address lookup counts against the attempt's timeout (finding 13); and the
// delivery log reads a page at a time.
import { createWebhookService, InvalidStateError, type WebhookSender } from "@credits/core";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createOutboxStore } from "../src/outbox-store.ts";
import { webhookDeliveries, webhookEndpoints } from "../src/schema.ts";
import { createWebhookStore } from "../src/webhook-store.ts";
import { createUser } from "./fixtures.ts";
import { testDb } from "./setup.ts";

const { db } = testDb;
const sent: string[] = [];
const sender: WebhookSender = {
  send: async ({ eventId }) => {
    sent.push(eventId);
    return { statusCode: 200, error: null, responseExcerpt: null };
  },
};
const settings = {
  allowPrivate: false,
  retry: { maxAttempts: 3, baseDelayMs: 1_000, maxDelayMs: 4_000 },
  timeoutMs: 300,
  disableAfterFailedDeliveries: 5,
  rotationOverlapMs: 3_600_000,
  batchSize: 10,
  concurrency: 2,
};
const service = (resolve: (host: string) => Promise<string[]> = async () => ["93.184.216.34"]) =>
  createWebhookService({ store: createWebhookStore(db), sender, resolve, settings });
const actor = { actorId: await createUser(db) };

async function endpointWithEvents(path: string, count: number) {
  const { endpoint } = await service().createEndpoint(
    { url: `https://hooks.example.com/${path}`, events: ["credits.depleted"] },
    actor,
  );
  await db.update(webhookEndpoints).set({ status: "disabled" }).where(sql`${webhookEndpoints.id} <> ${endpoint.id}`);
  const events: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const userId = await createUser(db);
    events.push(
      await db.transaction((tx) =>
        createOutboxStore(tx).emit({
          type: "credits.depleted",
          userId,
          data: { userId, balance: 0, transactionId: "t" },
        }),
      ),
    );
  }
  return { endpoint, events };
}

describe("replay of a delivery a worker is sending", () => {
  it("is refused, and the worker's claim stays: no other instance sends it at the same time", async () => {
    const { endpoint } = await endpointWithEvents("in-flight", 1);
    const store = createWebhookStore(db);
    // Instance A claims the delivery and is still sending it.
    const lease = new Date(Date.now() + 60_000);
    const [claim] = await store.claimDue(new Date(), 10, lease);
    expect(claim?.endpointId).toBe(endpoint.id);

    await expect(service().replay(claim?.id ?? "", actor)).rejects.toThrow(InvalidStateError);
    const [row] = await db
      .select()
      .from(webhookDeliveries)
      .where(eq(webhookDeliveries.id, claim?.id ?? ""));
    expect(row?.lockedUntil?.getTime()).toBe(lease.getTime());
    sent.length = 0;
    expect((await service().deliverDue()).claimed).toBe(0);
    expect(sent).toEqual([]);

    // Once A's attempt is logged, the replay goes through (a new round, due now).
    await store.recordAttempt(
      {
        deliveryId: claim?.id ?? "",
        attempt: claim?.attempt ?? 0,
        startedAt: new Date(),
        statusCode: 200,
        latencyMs: 5,
        error: null,
        responseExcerpt: null,
        status: "succeeded",
        nextAttemptAt: null,
      },
      5,
    );
    await expect(service().replay(claim?.id ?? "", actor)).resolves.toMatchObject({ status: "pending" });
    expect((await service().deliverDue()).claimed).toBe(1);
  });
});

describe("an attempt's timeout", () => {
  it("bounds the address lookup too: a resolver that hangs ends the attempt, logged as timed out", async () => {
    const { endpoint } = await endpointWithEvents("slow-dns", 1);
    const hanging = service(
      () => new Promise<string[]>((resolve) => setTimeout(() => resolve(["93.184.216.34"]), 5_000)),
    );
    sent.length = 0;
    const started = performance.now();
    expect((await hanging.deliverDue()).claimed).toBe(1);
    expect(performance.now() - started).toBeLessThan(settings.timeoutMs + 1_500);
    expect(sent).toEqual([]);
    const {
      deliveries: [delivery],
    } = await hanging.listDeliveries(endpoint.id);
    expect(delivery?.status).toBe("pending");
    expect(delivery?.log[0]?.error).toMatch(/address lookup timed out/);
  });
});

describe("the delivery log", () => {
  it("pages newest first, each delivery once, and says when there is no more", async () => {
    const { endpoint, events } = await endpointWithEvents("paging", 5);
    const webhooks = service();
    const seen: string[] = [];
    let cursor: string | undefined;
    const pages: number[] = [];
    do {
      const page = await webhooks.listDeliveries(endpoint.id, { limit: 2, ...(cursor ? { cursor } : {}) });
      pages.push(page.deliveries.length);
      seen.push(...page.deliveries.map((d) => d.eventId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(pages).toEqual([2, 2, 1]);
    expect(seen).toEqual([...events].reverse());
    await expect(webhooks.listDeliveries(endpoint.id, { cursor: "bm9wZQ" })).rejects.toThrow(/invalid cursor/);
  });
});
