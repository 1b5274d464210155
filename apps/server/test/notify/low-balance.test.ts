// Low-balance alerts: PUT/GET /api/v1/me/alerts with hostile values, and the crossing, decided by
// the ledger row that crossed (migration 0010), exactly once under concurrent spends.
import { randomUUID } from "node:crypto";
import { mails, outboxEvents } from "@credits/db/schema";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { call, db, fullKey, fund, provisionAdminKeys, signUp } from "../rest-contract-helpers.ts";

provisionAdminKeys();

const put = (cookie: string, body: unknown) => call("PUT", "/api/v1/me/alerts", { cookie, body });

async function spend(userId: string, amount: number) {
  return call("POST", "/api/v1/credits/spend", {
    key: fullKey,
    body: { userId, amount, idempotencyKey: randomUUID() },
  });
}

async function alertsOf(userId: string) {
  const events = await db
    .select({ type: outboxEvents.type, payload: outboxEvents.payload })
    .from(outboxEvents)
    .where(eq(outboxEvents.userId, userId))
    .orderBy(outboxEvents.seq);
  const queued = await db
    .select({ cause: mails.cause, data: mails.data })
    .from(mails)
    .where(and(eq(mails.userId, userId), eq(mails.template, "low_balance")));
  return {
    low: events.filter((event) => event.type === "credits.low_balance"),
    depleted: events.filter((event) => event.type === "credits.depleted"),
    mails: queued,
  };
}

describe("PUT /api/v1/me/alerts", () => {
  it("sets, reads and turns off the threshold; the default applies until the user sets one", async () => {
    const user = await signUp("alerts");
    const initial = await call("GET", "/api/v1/me/alerts", { cookie: user.cookie });
    expect(initial.status).toBe(200);
    // The test server runs with the environment's default (LOW_BALANCE_THRESHOLD_DEFAULT, 100).
    expect(initial.body).toEqual({ lowBalanceThreshold: 100, isDefault: true });
    expect((await put(user.cookie, { lowBalanceThreshold: 250 })).body).toEqual({
      lowBalanceThreshold: 250,
      isDefault: false,
    });
    expect((await put(user.cookie, { lowBalanceThreshold: null })).body).toEqual({
      lowBalanceThreshold: null,
      isDefault: false,
    });
    expect((await call("GET", "/api/v1/me/alerts", { cookie: user.cookie })).body.lowBalanceThreshold).toBeNull();
  });

  it("refuses hostile values with 400 and changes nothing", async () => {
    const user = await signUp("hostile-alerts");
    await put(user.cookie, { lowBalanceThreshold: 42 });
    const hostile: unknown[] = [
      { lowBalanceThreshold: -1 },
      { lowBalanceThreshold: 1_000_000_001 },
      { lowBalanceThreshold: Number.MAX_SAFE_INTEGER },
      { lowBalanceThreshold: 1e300 },
      { lowBalanceThreshold: 10.5 },
      { lowBalanceThreshold: "100" },
      { lowBalanceThreshold: "1\u0000\r\n" },
      { lowBalanceThreshold: true },
      { lowBalanceThreshold: [100] },
      { lowBalanceThreshold: { value: 1 } },
      {},
      { lowBalanceThreshold: 10, userId: randomUUID() },
      "x".repeat(10_000),
    ];
    for (const body of hostile) {
      const reply = await put(user.cookie, body);
      expect(reply.status, JSON.stringify(body).slice(0, 60)).toBe(400);
      expect(reply.body.error.code).toBe("INVALID_INPUT");
    }
    const overLimit = await call("PUT", "/api/v1/me/alerts", {
      cookie: user.cookie,
      rawBody: `{"lowBalanceThreshold": ${"9".repeat(400)}}`,
    });
    expect(overLimit.status).toBe(400);
    expect((await call("GET", "/api/v1/me/alerts", { cookie: user.cookie })).body.lowBalanceThreshold).toBe(42);
  });

  it("needs a signed-in user", async () => {
    expect((await call("PUT", "/api/v1/me/alerts", { body: { lowBalanceThreshold: 5 } })).status).toBe(401);
    expect((await call("GET", "/api/v1/me/alerts", { key: fullKey })).status).toBe(401);
  });
});

describe("the crossing", () => {
  it("two concurrent spends crossing the threshold raise one alert; going back above re-arms it", async () => {
    const user = await signUp("crossing");
    await put(user.cookie, { lowBalanceThreshold: 50 });
    await fund(user.id, 100);
    // Five concurrent spends of 20 from 100: one of them takes it from 60 to 40 (the crossing), the
    // last to 0 (depleted), whatever order and batches the group commit makes of them.
    const replies = await Promise.all(Array.from({ length: 5 }, () => spend(user.id, 20)));
    expect(replies.every((reply) => reply.status === 200)).toBe(true);
    let alerts = await alertsOf(user.id);
    expect(alerts.low).toHaveLength(1);
    expect(alerts.low[0]?.payload).toMatchObject({
      type: "credits.low_balance",
      data: { userId: user.id, balance: 40, threshold: 50 },
    });
    expect(alerts.mails).toHaveLength(1);
    expect(alerts.depleted).toHaveLength(1);
    // Back above the threshold, then below again: a second crossing.
    await fund(user.id, 60);
    expect((await spend(user.id, 20)).status).toBe(200);
    alerts = await alertsOf(user.id);
    expect(alerts.low).toHaveLength(2);
    expect(alerts.mails).toHaveLength(2);
  });

  it("many concurrent spends from many starting points: one alert per crossing, never more", async () => {
    const user = await signUp("crossing-many");
    await put(user.cookie, { lowBalanceThreshold: 500 });
    await fund(user.id, 1_000);
    await Promise.all(Array.from({ length: 40 }, () => spend(user.id, 7)));
    const alerts = await alertsOf(user.id);
    expect(alerts.low).toHaveLength(0);
    await Promise.all(Array.from({ length: 40 }, () => spend(user.id, 7)));
    const after = await alertsOf(user.id);
    expect(after.low).toHaveLength(1);
    expect(after.mails).toHaveLength(1);
  });

  it("holds hovering at the threshold raise one alert, not one per request; only a real credit re-arms it", async () => {
    const user = await signUp("crossing-holds");
    await put(user.cookie, { lowBalanceThreshold: 100 });
    await fund(user.id, 105);
    // Each request holds 10 (105 → 95, below) and releases it (back to 105): one alert in all.
    for (let i = 0; i < 4; i += 1) {
      const held = await call("POST", "/api/v1/credits/holds", {
        key: fullKey,
        body: { userId: user.id, amount: 10, idempotencyKey: randomUUID() },
      });
      expect(held.status, JSON.stringify(held.body)).toBe(200);
      const released = await call("POST", `/api/v1/credits/holds/${held.body.holdId}/release`, { key: fullKey });
      expect(released.status, JSON.stringify(released.body)).toBe(200);
    }
    let alerts = await alertsOf(user.id);
    expect(alerts.low).toHaveLength(1);
    expect(alerts.mails).toHaveLength(1);
    // A spend after those releases does not cross again: nothing replenished the balance.
    expect((await spend(user.id, 10)).status).toBe(200);
    expect((await alertsOf(user.id)).low).toHaveLength(1);
    // A grant back above the threshold (95 → 115) re-arms it: the next crossing is a new alert.
    await fund(user.id, 20);
    expect((await spend(user.id, 20)).status).toBe(200);
    alerts = await alertsOf(user.id);
    expect(alerts.low).toHaveLength(2);
    expect(alerts.mails).toHaveLength(2);
  });

  it("no alert while turned off, and no alert for a spend that stays above", async () => {
    const user = await signUp("crossing-off");
    await put(user.cookie, { lowBalanceThreshold: null });
    await fund(user.id, 200);
    await spend(user.id, 150);
    expect((await alertsOf(user.id)).low).toHaveLength(0);
    await put(user.cookie, { lowBalanceThreshold: 10 });
    await spend(user.id, 20);
    expect((await alertsOf(user.id)).low).toHaveLength(0);
  });

  it("credits.depleted: once per crossing to zero; holds released and taken again do not repeat it", async () => {
    const user = await signUp("depleted-holds");
    await put(user.cookie, { lowBalanceThreshold: null });
    await fund(user.id, 30);
    const hold = async () => {
      const held = await call("POST", "/api/v1/credits/holds", {
        key: fullKey,
        body: { userId: user.id, amount: 30, idempotencyKey: randomUUID() },
      });
      expect(held.status, JSON.stringify(held.body)).toBe(200);
      return held.body.holdId as string;
    };
    // 30 → 0 by a hold (depleted), released to 30, held to 0 again, released, spent to 0.
    for (let i = 0; i < 2; i += 1) {
      const released = await call("POST", `/api/v1/credits/holds/${await hold()}/release`, { key: fullKey });
      expect(released.status).toBe(200);
    }
    expect((await spend(user.id, 30)).status).toBe(200);
    expect((await alertsOf(user.id)).depleted).toHaveLength(1);
    // A real credit above zero re-arms it: the next time it reaches zero is a new alert.
    await fund(user.id, 10);
    expect((await spend(user.id, 10)).status).toBe(200);
    const depleted = (await alertsOf(user.id)).depleted;
    expect(depleted).toHaveLength(2);
    expect(depleted[1]?.payload).toMatchObject({ data: { userId: user.id, balance: 0 } });
  });
});
