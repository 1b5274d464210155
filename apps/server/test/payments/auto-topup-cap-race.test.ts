// Review item 1: the day's amount cap under concurrency. Spends crossing the threshold from several
// connections at once, with two workers charging at the same time, must never send charges that
// add up past the cap. The design says they cannot: one attempt in flight per user (the partial
// unique index auto_topup_attempts_one_in_flight), and the cap checked under the settings row's
// lock in the transaction that makes the payment (ADR 019). Several connections: PostgreSQL only.
import { randomUUID } from "node:crypto";
import { autoTopUpAttempts, payments } from "@credits/db/schema";
import { and, eq, inArray, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { buySavingCard, grant, intentRequests, optIn, spend } from "./auto-topup-helpers.ts";
import {
  balanceOf,
  call,
  db,
  failOnLoggedError,
  onPostgres,
  randomStripeId,
  signUp,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";
import { createAdmin } from "./refunds-helpers.ts";

const DAY_CAP_MINOR = 1_000;
// One top-up fits in the day's cap; a second would take it to 1,200.
const PRICE_MINOR = 600;
const USERS = 6;
const WAVES = 6;

const { mock } = startStripeMock();
const server = await startTestServer({
  ...stripeEnv,
  AUTO_TOPUP_MAX_PER_DAY: "10",
  AUTO_TOPUP_MAX_PER_MONTH: "100",
  AUTO_TOPUP_MAX_AMOUNT_PER_DAY_MINOR: `usd:${DAY_CAP_MINOR}`,
  AUTO_TOPUP_MAX_AMOUNT_PER_MONTH_MINOR: "usd:100000",
});
failOnLoggedError();
const admin = await createAdmin(server);

async function cappedPack(): Promise<string> {
  const created = await call(server.url, "POST", "/api/v1/admin/packages", {
    cookie: admin.cookie,
    body: {
      name: `Race ${randomUUID().slice(0, 8)}`,
      credits: 100,
      prices: [{ currency: "usd", unitAmount: PRICE_MINOR }],
    },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  return String(created.body.id);
}

// Opted in (threshold 50) on the capped pack with a card saved: 100 credits.
async function saver(packageId: string) {
  const user = await signUp(server.url, "cap-race");
  const opted = await optIn(server, user, { enabled: true, threshold: 50, packageId, currency: "usd" });
  expect(opted.status, JSON.stringify(opted.body)).toBe(200);
  const customer = await buySavingCard(server, mock, user.id, randomStripeId("pm"));
  expect(await balanceOf(user.id)).toBe(100);
  return { ...user, customer };
}

// A spend refused for want of credits is part of the race, not a failure of the test.
const settled = (work: Promise<unknown>) => work.catch(() => undefined);

// What the user's attempts that reached the provider were charged, as our payments say.
async function chargedMinor(userId: string): Promise<number[]> {
  const rows = await db
    .select({ amountMinor: payments.amountMinor })
    .from(payments)
    .innerJoin(autoTopUpAttempts, eq(autoTopUpAttempts.paymentId, payments.id))
    .where(
      and(
        eq(autoTopUpAttempts.userId, userId),
        inArray(autoTopUpAttempts.status, ["processing", "succeeded", "failed"]),
      ),
    );
  return rows.map((row) => row.amountMinor);
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

describe.runIf(onPostgres)("the day's amount cap under concurrent crossings (PostgreSQL)", () => {
  it(`${USERS} users, ${WAVES} crossings each, two spends and two workers at once: never past the cap`, async () => {
    const packageId = await cappedPack();
    let capped = 0;
    for (let round = 0; round < USERS; round += 1) {
      const user = await saver(packageId);
      for (let wave = 0; wave < WAVES; wave += 1) {
        // Back at or above the threshold (a grant does not cross), then two spends from two
        // connections take it to 20: one of them crosses, while two workers claim and charge.
        const balance = await balanceOf(user.id);
        const lift = balance < 60 ? 100 : 0;
        if (lift > 0) await grant(server, user.id, lift);
        const toSpend = balance + lift - 20;
        await Promise.all([
          settled(spend(server, user.id, Math.floor(toSpend / 2))),
          settled(spend(server, user.id, Math.ceil(toSpend / 2))),
          server.services.autoTopUp.runOnce(),
          server.services.autoTopUp.runOnce(),
        ]);
      }
      await server.services.autoTopUp.runOnce();
      const charged = await chargedMinor(user.id);
      expect(charged.length, `user ${round}: its first crossing charged`).toBeGreaterThan(0);
      expect(sum(charged), `user ${round}: ${JSON.stringify(charged)}`).toBeLessThanOrEqual(DAY_CAP_MINOR);
      const sent = intentRequests(mock, user.customer).map((request) => Number(request.params.amount));
      expect(sum(sent), `user ${round}: ${JSON.stringify(sent)}`).toBeLessThanOrEqual(DAY_CAP_MINOR);
      const attempts = await db.select().from(autoTopUpAttempts).where(eq(autoTopUpAttempts.userId, user.id));
      capped += attempts.filter((attempt) => attempt.reason === "cap_reached").length;
    }
    // The race was run against the cap, not beside it: crossings after the first were refused by it.
    expect(capped).toBeGreaterThan(0);
  });
});

// The window forced open: the payment's insert held 0.5 s inside the worker's transaction (a trigger
// in this file's database), a second crossing made and claimed by a second worker meanwhile. Each
// guard alone holds the cap: with both removed (the index dropped and the cap read without the
// settings lock) this charged 600 + 600.
describe.runIf(onPostgres)("a second crossing while the first top-up's payment is being made (PostgreSQL)", () => {
  async function crossingDuringPrepare() {
    const user = await saver(await cappedPack());
    await spend(server, user.id, 60);
    const first = server.services.autoTopUp.runOnce();
    await new Promise((resolve) => setTimeout(resolve, 150));
    await grant(server, user.id, 100);
    await spend(server, user.id, 100);
    await Promise.all([first, server.services.autoTopUp.runOnce()]);
    const attempts = await db.select().from(autoTopUpAttempts).where(eq(autoTopUpAttempts.userId, user.id));
    expect(sum(await chargedMinor(user.id))).toBeLessThanOrEqual(DAY_CAP_MINOR);
    return attempts.map((attempt) => [attempt.status, attempt.reason]);
  }

  it("the one-in-flight index: the second crossing writes no attempt", async () => {
    await db.execute(sql`CREATE FUNCTION slow_auto_topup_payment() RETURNS trigger LANGUAGE plpgsql
                         AS $$ BEGIN PERFORM pg_sleep(0.5); RETURN NEW; END $$`);
    await db.execute(sql`CREATE TRIGGER slow_auto_topup_payment BEFORE INSERT ON payments FOR EACH ROW
                         WHEN (NEW.idempotency_key LIKE 'auto_topup:%') EXECUTE FUNCTION slow_auto_topup_payment()`);
    expect(await crossingDuringPrepare()).toEqual([["succeeded", null]]);
  });

  // Last in the file: the index is dropped from this file's database.
  it("without the index, the settings lock: the second attempt waits for the first's payment and finds the cap", async () => {
    await db.execute(sql`DROP INDEX auto_topup_attempts_one_in_flight`);
    expect((await crossingDuringPrepare()).sort()).toEqual([
      ["skipped", "cap_reached"],
      ["succeeded", null],
    ]);
  });
});
