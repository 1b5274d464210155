// Auto top-up's amount caps (per currency, per UTC day and month): a count cap alone let 5 charges
// of a 70 USD pack take 350 USD a day. The charges of the window in the attempt's currency, with
// this one, must stay within the cap; past it the crossing charges nothing (cap_reached).
import { randomUUID } from "node:crypto";
import { autoTopUpAttempts, autoTopUpSettings } from "@credits/db/schema";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  attemptsOf,
  autoTopUpOf,
  buySavingCard,
  eventsOf,
  intentRequests,
  optIn,
  saverWithCard,
  spend,
} from "./auto-topup-helpers.ts";
import { packOnSale } from "./catalogue-helpers.ts";
import {
  balanceOf,
  db,
  failOnLoggedError,
  randomStripeId,
  signUp,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";
import { createAdmin } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
// The counts leave room; the amounts do not: two 5 USD charges a day, two 4.50 EUR ones a month.
const server = await startTestServer({
  ...stripeEnv,
  AUTO_TOPUP_MAX_PER_DAY: "10",
  AUTO_TOPUP_MAX_PER_MONTH: "100",
  AUTO_TOPUP_MAX_AMOUNT_PER_DAY_MINOR: "usd:1000,eur:100000",
  AUTO_TOPUP_MAX_AMOUNT_PER_MONTH_MINOR: "usd:100000,eur:900",
});
failOnLoggedError();
const admin = await createAdmin(server);
const runWorker = () => server.services.autoTopUp.runOnce();

// 100 credits sold at `prices`.
async function packPriced(prices: { currency: string; unitAmount: number }[]): Promise<string> {
  return String(
    (await packOnSale(server, admin, { name: `Capped ${randomUUID().slice(0, 8)}`, credits: 100, prices })).id,
  );
}

// Opted in on `packageId` in `currency` with a card saved: 100 credits.
async function saverIn(packageId: string, currency: string) {
  const user = await signUp(server.url, `caps-${currency}`);
  const opted = await optIn(server, user, { enabled: true, threshold: 50, packageId, currency });
  expect(opted.status, JSON.stringify(opted.body)).toBe(200);
  const customer = await buySavingCard(server, mock, user.id, randomStripeId("pm"));
  return { ...user, customer };
}

// Three crossings: 100 → 40, topped up to 140 → 40, topped up to 140 → 40.
async function crossThreeTimes(userId: string) {
  for (const amount of [60, 100, 100]) {
    await spend(server, userId, amount);
    await runWorker();
  }
}

describe("auto top-up amount caps", () => {
  it("past the day's amount in its currency a crossing charges nothing, whatever the count cap", async () => {
    const saver = await saverWithCard(server, mock);
    await crossThreeTimes(saver.id);
    expect(intentRequests(mock, saver.customer).map((r) => r.params.amount)).toEqual(["500", "500"]);
    expect((await attemptsOf(saver.id)).map((a) => [a.status, a.reason])).toEqual([
      ["succeeded", null],
      ["succeeded", null],
      ["skipped", "cap_reached"],
    ]);
    expect(await eventsOf(saver.id, "auto_topup.failed")).toMatchObject([{ reason: "cap_reached" }]);
    expect(await balanceOf(saver.id)).toBe(40);
  });

  // A crossing just before midnight UTC, charged after it (the worker behind, the provider slow): its
  // charge is today's, as the caps say (charges sent per UTC day), not its crossing's day's.
  it("a charge sent today for a crossing of yesterday counts in today's caps", async () => {
    const saver = await saverWithCard(server, mock);
    await spend(server, saver.id, 60);
    await db
      .update(autoTopUpAttempts)
      .set({ createdAt: sql`date_trunc('day', now(), 'UTC') - interval '1 second'` })
      .where(eq(autoTopUpAttempts.userId, saver.id));
    await runWorker();
    for (const amount of [100, 100]) {
      await spend(server, saver.id, amount);
      await runWorker();
    }
    expect(intentRequests(mock, saver.customer).map((r) => r.params.amount)).toEqual(["500", "500"]);
    expect((await attemptsOf(saver.id)).map((a) => a.reason)).toEqual([null, null, "cap_reached"]);
  });

  it("past the month's amount likewise, counted in that currency only", async () => {
    const saver = await saverIn(await packPriced([{ currency: "eur", unitAmount: 450 }]), "eur");
    await crossThreeTimes(saver.id);
    expect(intentRequests(mock, saver.customer).map((r) => [r.params.amount, r.params.currency])).toEqual([
      ["450", "eur"],
      ["450", "eur"],
    ]);
    expect((await attemptsOf(saver.id)).map((a) => a.reason)).toEqual([null, null, "cap_reached"]);
  });

  it("a charge in another currency leaves the month's EUR room as it was", async () => {
    const packageId = await packPriced([
      { currency: "eur", unitAmount: 450 },
      { currency: "usd", unitAmount: 500 },
    ]);
    const saver = await saverIn(packageId, "usd");
    await spend(server, saver.id, 60);
    await runWorker();
    const opted = await optIn(server, saver, { enabled: true, threshold: 50, packageId, currency: "eur" });
    expect(opted.status, JSON.stringify(opted.body)).toBe(200);
    for (const amount of [100, 100]) {
      await spend(server, saver.id, amount);
      await runWorker();
    }
    expect(intentRequests(mock, saver.customer).map((r) => [r.params.amount, r.params.currency])).toEqual([
      ["500", "usd"],
      ["450", "eur"],
      ["450", "eur"],
    ]);
  });

  // A choice made while the currency had a cap, the cap removed from the configuration since.
  it("a currency with no amount cap configured: nothing charged in it", async () => {
    const packageId = await packPriced([
      { currency: "usd", unitAmount: 500 },
      { currency: "gbp", unitAmount: 400 },
    ]);
    const saver = await saverIn(packageId, "usd");
    await db.update(autoTopUpSettings).set({ currency: "gbp" }).where(eq(autoTopUpSettings.userId, saver.id));
    await spend(server, saver.id, 60);
    await runWorker();
    expect(intentRequests(mock, saver.customer)).toEqual([]);
    expect((await attemptsOf(saver.id)).map((a) => [a.status, a.reason])).toEqual([["skipped", "cap_reached"]]);
  });

  it("GET tells the amount caps in the chosen currency", async () => {
    const saver = await saverIn(await packPriced([{ currency: "eur", unitAmount: 450 }]), "eur");
    expect((await autoTopUpOf(server, saver)).body.caps).toEqual({
      perDay: 10,
      perMonth: 100,
      amountPerDayMinor: 100_000,
      amountPerMonthMinor: 900,
    });
  });
});

// Turning it on for a price no top-up can charge would skip every crossing (cap_reached): 400.
describe("choosing a pack and currency the amount caps leave no room for", () => {
  const choose = async (currency: unknown, prices = [{ currency: "gbp", unitAmount: 400 }]) => {
    const user = await signUp(server.url, "caps-choice");
    const packageId = await packPriced(prices);
    return { user, reply: await optIn(server, user, { enabled: true, threshold: 50, packageId, currency }) };
  };

  it("a currency with no amount cap configured: 400 saying so, nothing saved", async () => {
    const { user, reply } = await choose("gbp");
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({
      error: { code: "INVALID_INPUT", message: "auto top-up is not available in GBP: choose another currency or pack" },
    });
    expect((await autoTopUpOf(server, user)).body).toMatchObject({ enabled: false, packageId: null });
  });

  it("a price past the day's or the month's cap on its own: 400", async () => {
    const day = await choose("usd", [{ currency: "usd", unitAmount: 1001 }]);
    expect(day.reply.status).toBe(400);
    expect(String((day.reply.body.error as { message: string }).message)).toMatch(/limit of 1000 a day/);
    const month = await choose("eur", [{ currency: "eur", unitAmount: 901 }]);
    expect(month.reply.status).toBe(400);
    expect(String((month.reply.body.error as { message: string }).message)).toMatch(/limit of 900 a month/);
  });

  it("hostile currencies: 400, never a prototype's key taken for a cap", async () => {
    for (const currency of ["__proto__", "constructor", "GBP", "gb", "gbp ", "usd\u0000", 840, null, ["usd"]]) {
      const { reply } = await choose(currency, [{ currency: "usd", unitAmount: 500 }]);
      expect(reply.status, JSON.stringify(currency)).toBe(400);
    }
  });

  it("turning it off stays allowed with no cap", async () => {
    const { reply } = await choose("gbp").then(async ({ user }) => ({
      reply: await optIn(server, user, {
        enabled: false,
        threshold: 50,
        packageId: await packPriced([{ currency: "gbp", unitAmount: 400 }]),
        currency: "gbp",
      }),
    }));
    expect(reply.status).toBe(200);
  });

  it("a capped currency of the same pack is accepted", async () => {
    const { reply } = await choose("usd", [
      { currency: "gbp", unitAmount: 400 },
      { currency: "usd", unitAmount: 500 },
    ]);
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  });
});
