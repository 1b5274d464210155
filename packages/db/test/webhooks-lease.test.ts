// The claim's lease against a slow pass: a worker claims a batch and sends it a few at a time, so
// the last of the batch waits for the attempts before it. Its claim must last until it is sent,
// or a second instance claims it again and the receiver gets it twice. Time is a fake clock that
// each attempt moves on by the whole timeout (receivers that answer at the last moment).
import { createWebhookService, type WebhookSender } from "@credits/core";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createOutboxStore } from "../src/outbox-store.ts";
import { webhookEndpoints } from "../src/schema.ts";
import { createWebhookStore } from "../src/webhook-store.ts";
import { createUser } from "./fixtures.ts";
import { testDb } from "./setup.ts";

const { db } = testDb;
const timeoutMs = 10_000;
let nowMs = Date.now();
const clock = { now: () => new Date(nowMs) };
const settings = {
  allowPrivate: false,
  retry: { maxAttempts: 3, baseDelayMs: 1_000, maxDelayMs: 4_000 },
  timeoutMs,
  disableAfterFailedDeliveries: 5,
  rotationOverlapMs: 3_600_000,
  batchSize: 8,
  concurrency: 2,
};

describe("the claim's lease", () => {
  it("covers the whole batch: a second instance never claims what the first will still send", async () => {
    const sends: { worker: string; eventId: string }[] = [];
    let second: Promise<unknown> | null = null;
    const sender = (worker: string, duringSend?: () => void): WebhookSender => ({
      send: async ({ eventId }) => {
        sends.push({ worker, eventId });
        nowMs += timeoutMs;
        duringSend?.();
        return { statusCode: 200, error: null, responseExcerpt: null };
      },
    });
    const instance = (worker: string, duringSend?: () => void) =>
      createWebhookService({
        store: createWebhookStore(db),
        sender: sender(worker, duringSend),
        resolve: async () => ["93.184.216.34"],
        settings,
        clock,
      });
    const other = instance("b");
    // The other instance polls while the first is half-way through its batch.
    const first = instance("a", () => {
      if (sends.length === settings.batchSize / 2) second = other.deliverDue();
    });

    const actor = { actorId: await createUser(db) };
    const { endpoint } = await first.createEndpoint(
      { url: "https://hooks.example.com/lease", events: ["credits.depleted"] },
      actor,
    );
    await db.update(webhookEndpoints).set({ status: "disabled" }).where(sql`${webhookEndpoints.id} <> ${endpoint.id}`);
    const events: string[] = [];
    for (let i = 0; i < settings.batchSize; i += 1) {
      const userId = await createUser(db);
      events.push(
        await db.transaction((tx) =>
          createOutboxStore(tx).emit({
            type: "credits.depleted",
            userId,
            data: { userId, balance: 0, transactionId: `t${i}` },
          }),
        ),
      );
    }

    nowMs = Date.now() + 1_000;
    expect((await first.deliverDue()).claimed).toBe(settings.batchSize);
    await second;
    const sentIds = sends.map((s) => s.eventId).sort();
    expect(sentIds).toEqual([...events].sort());
    expect(sends.filter((s) => s.worker === "b")).toEqual([]);
  });
});
