// Per-key daily limits, set when the key is made, enforced through the real server: concurrent
// calls never get past a limit together, a refused or replayed call does not use it up.
import { randomUUID } from "node:crypto";
import { apiKeyUsage } from "@credits/db/schema";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { startTestServer } from "./harness.ts";
import { client, db } from "./hostile-keys-helpers.ts";

const server = await startTestServer();
const { send, person, createKey, grant, spend, balance } = client(server);

let admin: Awaited<ReturnType<typeof person>>;
let customer: Awaited<ReturnType<typeof person>>;

beforeAll(async () => {
  [admin, customer] = await Promise.all([person("admin"), person()]);
});

describe("per-key daily limits", () => {
  it("are set at creation and listed", async () => {
    const limits = { grantCreditsPerDay: 500, spendCallsPerDay: 7 };
    const { id } = await createKey(admin, ["credits:grant"], limits);
    const listed = await send("GET", "/api/v1/admin/api-keys", admin);
    expect(listed.body.apiKeys.find((k: { id: string }) => k.id === id).limits).toEqual({
      grantCreditsPerDay: 500,
      grantCallsPerDay: null,
      spendCreditsPerDay: null,
      spendCallsPerDay: 7,
    });
    for (const bad of [{ grantCreditsPerDay: 0 }, { spendCallsPerDay: -1 }, { grantCallsPerDay: 1.5 }, { other: 1 }]) {
      const reply = await send("POST", "/api/v1/admin/api-keys", admin, {
        name: "bad",
        scopes: ["credits:grant"],
        limits: bad,
      });
      expect(reply.status, JSON.stringify(bad)).toBe(400);
    }
  });

  it("grants stop at the day's credits with 429 LIMIT_EXCEEDED and Retry-After; a replay counts once", async () => {
    const { key } = await createKey(admin, ["credits:grant"], { grantCreditsPerDay: 100 });
    const idempotencyKey = randomUUID();
    expect((await grant(key, customer.id, 60, idempotencyKey)).status).toBe(200);
    expect((await grant(key, customer.id, 60, idempotencyKey)).status).toBe(200);
    const over = await grant(key, customer.id, 50);
    expect(over.status).toBe(429);
    expect(over.body.error).toEqual({ code: "LIMIT_EXCEEDED", message: expect.stringMatching(/daily grant limit/) });
    const retryAfter = Number(over.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect((await grant(key, customer.id, 40)).status).toBe(200);
    expect(await balance(customer.id)).toBe(100);
  });

  it("concurrent spends never pass the limit together; refused spends do not use it up", async () => {
    const funding = await createKey(admin, ["credits:grant"]);
    const spender = await person();
    expect((await grant(funding.key, spender.id, 1_000)).status).toBe(200);
    const { id, key } = await createKey(admin, ["credits:spend"], { spendCreditsPerDay: 25, spendCallsPerDay: 20 });

    // Refused for lack of credits (another user with none): counted, then taken back.
    const broke = await person();
    expect((await spend(key, broke.id, 10)).status).toBe(402);

    const replies = await Promise.all(Array.from({ length: 40 }, () => spend(key, spender.id, 1)));
    const statuses = replies.map((reply) => reply.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(20);
    expect(statuses.filter((status) => status === 429)).toHaveLength(20);
    expect(await balance(spender.id)).toBe(980);

    const [usage] = await db.select().from(apiKeyUsage).where(eq(apiKeyUsage.apiKeyId, id));
    expect(usage).toMatchObject({ operation: "spend", credits: 20, calls: 20 });
  });

  it("holds count as spends", async () => {
    const funding = await createKey(admin, ["credits:grant"]);
    const holder = await person();
    expect((await grant(funding.key, holder.id, 1_000)).status).toBe(200);
    const { key } = await createKey(admin, ["credits:spend"], { spendCreditsPerDay: 30 });
    const hold = (amount: number) =>
      send("POST", "/api/v1/credits/holds", { key }, { userId: holder.id, amount, idempotencyKey: randomUUID() });
    expect((await hold(20)).status).toBe(200);
    expect((await hold(20)).status).toBe(429);
    expect((await spend(key, holder.id, 10)).status).toBe(200);
    expect((await spend(key, holder.id, 1)).status).toBe(429);
  });

  it("a key without limits writes no usage rows", async () => {
    const { id, key } = await createKey(admin, ["credits:grant"]);
    expect((await grant(key, customer.id, 5)).status).toBe(200);
    expect(await db.select().from(apiKeyUsage).where(eq(apiKeyUsage.apiKeyId, id))).toEqual([]);
  });
});
