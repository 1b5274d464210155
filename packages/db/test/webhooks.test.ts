// The webhook service on the real store, with the network replaced at its two edges: a resolver
// answering what a test says a name resolves to, and a sender recording what would be sent. Shows
// the SSRF rules at registration and at delivery (DNS rebinding), hostile URLs, the retry
// schedule, the rotation's overlap and the claim under concurrent workers.
import { randomUUID } from "node:crypto";
import {
  createWebhookService,
  InvalidInputError,
  isPublicAddress,
  parseEndpointUrl,
  retryDelayMs,
  type WebhookSender,
} from "@credits/core";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createOutboxStore } from "../src/outbox-store.ts";
import { webhookDeliveries, webhookEndpoints } from "../src/schema.ts";
import { createWebhookStore } from "../src/webhook-store.ts";
import { createUser } from "./fixtures.ts";
import { testDb } from "./setup.ts";

const { db } = testDb;
const dns = new Map<string, string[]>();
const sent: Parameters<WebhookSender["send"]>[0][] = [];
const sender: WebhookSender = {
  send: async (request) => {
    sent.push(request);
    return { statusCode: 200, error: null, responseExcerpt: "ok" };
  },
};
const settings = {
  allowPrivate: false,
  retry: { maxAttempts: 3, baseDelayMs: 1_000, maxDelayMs: 4_000 },
  timeoutMs: 1_000,
  disableAfterFailedDeliveries: 5,
  rotationOverlapMs: 3_600_000,
  batchSize: 50,
  concurrency: 4,
};
const service = (overrides: Partial<typeof settings> = {}) =>
  createWebhookService({
    store: createWebhookStore(db),
    sender,
    resolve: async (host) => dns.get(host) ?? [],
    settings: { ...settings, ...overrides },
  });
const webhooks = service();
const actor = { actorId: await createUser(db) };

async function emit() {
  const userId = await createUser(db);
  return db.transaction((tx) =>
    createOutboxStore(tx).emit({ type: "credits.depleted", userId, data: { userId, balance: 0, transactionId: "t1" } }),
  );
}
// Only this test's endpoint is enabled: the others' deliveries stay out of the way.
async function only(endpointId: string) {
  await db.update(webhookEndpoints).set({ status: "disabled" }).where(sql`${webhookEndpoints.id} <> ${endpointId}`);
}

describe("endpoint URLs", () => {
  const refused = [
    ["http, with private addresses not allowed", "http://hooks.example.com/x"],
    ["loopback", "https://127.0.0.1/x"],
    ["loopback in decimal", "https://2130706433/x"],
    ["loopback in octal", "https://0177.0.0.1/x"],
    ["loopback in hex", "https://0x7f.0.0.1/x"],
    ["0.0.0.0/8", "https://0.0.0.0/x"],
    ["private 10/8", "https://10.1.2.3/x"],
    ["private 192.168/16", "https://192.168.1.1/x"],
    ["carrier-grade NAT", "https://100.64.0.1/x"],
    ["cloud metadata (link-local)", "https://169.254.169.254/latest/meta-data"],
    ["IPv6 loopback", "https://[::1]/x"],
    ["IPv6 link-local", "https://[fe80::1]/x"],
    ["IPv6 unique-local (AWS metadata)", "https://[fd00:ec2::254]/x"],
    ["IPv4-mapped IPv6 loopback", "https://[::ffff:127.0.0.1]/x"],
    ["a name resolving to loopback", "https://localhost.test/x"],
    ["a name with one private answer among public ones", "https://mixed.test/x"],
    ["a name that does not resolve", "https://nowhere.test/x"],
    ["credentials in the URL", "https://user:secret@hooks.example.com/x"],
    ["a fragment", "https://hooks.example.com/x#frag"],
    ["javascript:", "javascript:alert(1)"],
    ["file:", "file:///etc/passwd"],
    ["ftp:", "ftp://hooks.example.com/x"],
    ["a relative URL", "/webhooks"],
    ["control characters", "https://hooks.example.com/x\u0000"],
    ["a line break", "https://hooks.example.com/x\r\nHost: evil"],
    ["spaces", "https://hooks.example.com/a b"],
    ["a bidirectional override", "https://hooks.example.com/\u202Ex"],
    ["2 KiB and more", `https://hooks.example.com/${"a".repeat(2_100)}`],
  ] as const;
  dns.set("hooks.example.com", ["93.184.216.34"]);
  dns.set("localhost.test", ["127.0.0.1"]);
  dns.set("mixed.test", ["93.184.216.34", "10.0.0.7"]);

  it.each(refused)("refuses %s at registration (400, nothing stored)", async (_, url) => {
    const before = await db.$count(webhookEndpoints);
    await expect(webhooks.createEndpoint({ url, events: ["credits.purchased"] }, actor)).rejects.toThrow(
      InvalidInputError,
    );
    expect(await db.$count(webhookEndpoints)).toBe(before);
  });

  it("accepts a public https URL, and private ones only when allowed", async () => {
    await expect(
      webhooks.createEndpoint({ url: "https://hooks.example.com/x", events: ["credits.purchased"] }, actor),
    ).resolves.toMatchObject({ secret: expect.stringMatching(/^whsec_/) });
    const permissive = service({ allowPrivate: true });
    await expect(
      permissive.createEndpoint({ url: "http://127.0.0.1:9/x", events: ["credits.purchased"] }, actor),
    ).resolves.toBeDefined();
    expect(() => parseEndpointUrl("ftp://127.0.0.1/x", { allowPrivate: true })).toThrow(InvalidInputError);
  });

  it("refuses unknown, empty or too many event types", async () => {
    const url = "https://hooks.example.com/x";
    for (const events of [[], ["credits.minted"], Array(65).fill("credits.purchased")]) {
      await expect(webhooks.createEndpoint({ url, events }, actor)).rejects.toThrow(InvalidInputError);
    }
  });

  it("judges addresses by their range", () => {
    expect(isPublicAddress("93.184.216.34")).toBe(true);
    expect(isPublicAddress("2606:2800:220:1:248:1893:25c8:1946")).toBe(true);
    for (const address of ["127.0.0.1", "::ffff:10.0.0.1", "100.100.100.200", "224.0.0.1", "not an ip", "::"]) {
      expect(isPublicAddress(address), address).toBe(false);
    }
  });
});

describe("delivery", () => {
  it("resolves again at delivery: a name that now resolves private is refused, nothing sent", async () => {
    dns.set("rebinding.test", ["93.184.216.34"]);
    const { endpoint } = await webhooks.createEndpoint(
      { url: "https://rebinding.test/hook", events: ["credits.depleted"] },
      actor,
    );
    await only(endpoint.id);
    dns.set("rebinding.test", ["127.0.0.1"]);
    await emit();
    sent.length = 0;
    expect((await webhooks.deliverDue()).claimed).toBe(1);
    expect(sent).toEqual([]);
    const {
      deliveries: [delivery],
    } = await webhooks.listDeliveries(endpoint.id);
    expect(delivery?.log[0]).toMatchObject({ statusCode: null, error: expect.stringMatching(/^refused: .*private/) });
    expect(delivery?.status).toBe("pending");

    // Public again: sent to exactly the address that was checked, signed with the endpoint's secret.
    dns.set("rebinding.test", ["93.184.216.35"]);
    await db
      .update(webhookDeliveries)
      .set({ nextAttemptAt: new Date(0) })
      .where(eq(webhookDeliveries.endpointId, endpoint.id));
    await webhooks.deliverDue();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ address: "93.184.216.35", secrets: [expect.stringMatching(/^whsec_/)] });
    expect(sent[0]?.url.hostname).toBe("rebinding.test");
  });

  it("after a rotation signs with both secrets until the overlap ends, then with the new one only", async () => {
    const { endpoint, secret: old } = await webhooks.createEndpoint(
      { url: "https://hooks.example.com/rotate", events: ["credits.depleted"] },
      actor,
    );
    await only(endpoint.id);
    const { secret: fresh } = await webhooks.rotateSecret(endpoint.id, actor);
    await emit();
    sent.length = 0;
    await webhooks.deliverDue();
    expect(sent[0]?.secrets).toEqual([fresh, old]);
    await db
      .update(webhookEndpoints)
      .set({ previousSecretExpiresAt: new Date(Date.now() - 1) })
      .where(eq(webhookEndpoints.id, endpoint.id));
    await emit();
    await webhooks.deliverDue();
    expect(sent[1]?.secrets).toEqual([fresh]);
  });

  it("two workers at once claim each due delivery once", async () => {
    const { endpoint } = await webhooks.createEndpoint(
      { url: "https://hooks.example.com/race", events: ["credits.depleted"] },
      actor,
    );
    await only(endpoint.id);
    const events = await Promise.all(Array.from({ length: 30 }, emit));
    sent.length = 0;
    const other = service();
    await Promise.all([webhooks.deliverDue(), other.deliverDue(), webhooks.deliverDue(), other.deliverDue()]);
    const ids = sent.map((request) => request.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(events));
  });

  it("backs off exponentially with jitter, and stops after the last attempt", () => {
    const policy = { maxAttempts: 14, baseDelayMs: 30_000, maxDelayMs: 6 * 3_600_000 };
    const low = Array.from({ length: 13 }, (_, i) => retryDelayMs(i + 1, policy, () => 0) ?? 0);
    const high = Array.from({ length: 13 }, (_, i) => retryDelayMs(i + 1, policy, () => 1) ?? 0);
    expect(low.slice(0, 3)).toEqual([15_000, 30_000, 60_000]);
    expect(high.slice(0, 3)).toEqual([30_000, 60_000, 120_000]);
    expect(high.at(-1)).toBe(6 * 3_600_000);
    const hours = (delays: number[]) => delays.reduce((a, b) => a + b, 0) / 3_600_000;
    expect(hours(low)).toBeGreaterThan(12);
    expect(hours(high)).toBeLessThan(27);
    expect(retryDelayMs(14, policy)).toBeNull();
  });

  it("an id that is not a uuid is not found, never a database error", async () => {
    await expect(webhooks.replay("nope", actor)).rejects.toThrow(/not found/i);
    await expect(webhooks.listDeliveries(randomUUID())).rejects.toThrow(/not found/i);
  });
});
