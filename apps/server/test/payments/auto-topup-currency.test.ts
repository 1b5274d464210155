// Auto top-up charges the currency the user chose (review 8, F3): the settings keep a currency
// among the pack's prices; the charge is that currency's price, and a price removed (or the pack
// archived) since is skipped, announced and mailed, never charged in another currency.
import { randomUUID } from "node:crypto";
import { creditGrants, mails } from "@credits/db/schema";
import { and, desc, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  attemptsOf,
  autoTopUpOf,
  buySavingCard,
  eventsOf,
  intentRequests,
  mailsOf,
  optIn,
  spend,
} from "./auto-topup-helpers.ts";
import { packOnSale } from "./catalogue-helpers.ts";
import {
  balanceOf,
  call,
  db,
  failOnLoggedError,
  paymentRow,
  randomStripeId,
  signUp,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";
import { createAdmin } from "./refunds-helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer({ ...stripeEnv, AUTO_TOPUP_MAX_PER_DAY: "2", AUTO_TOPUP_MAX_PER_MONTH: "10" });
failOnLoggedError();
const admin = await createAdmin(server);

// The user's failure mail as the dispatcher rendered it (the local outbox keeps it).
async function sentMail(userId: string) {
  const rendered = async () =>
    (
      await db
        .select({ rendered: mails.rendered })
        .from(mails)
        .where(and(eq(mails.userId, userId), eq(mails.template, "auto_topup_failed")))
    )[0]?.rendered as { subject: string; text: string; html: string } | null | undefined;
  await expect.poll(rendered, { timeout: 10_000, interval: 100 }).toBeTruthy();
  return (await rendered()) as { subject: string; text: string; html: string };
}

// A pack sold in dollars first (its default price) and in euros.
async function dollarAndEuroPack(creditExpiryDays?: number): Promise<string> {
  const created = await packOnSale(server, admin, {
    name: `Two currencies ${randomUUID().slice(0, 8)}`,
    credits: 100,
    prices: [
      { currency: "usd", unitAmount: 500 },
      { currency: "eur", unitAmount: 450 },
    ],
    ...(creditExpiryDays ? { creditExpiryDays } : {}),
  });
  return String(created.id);
}

// Opted in on `packageId` in `currency`, a card saved by a Checkout: 100 credits.
async function euroSaver(packageId: string) {
  const user = await signUp(server.url, "euro");
  const opted = await optIn(server, user, { enabled: true, threshold: 50, packageId, currency: "eur" });
  expect(opted.status, JSON.stringify(opted.body)).toBe(200);
  const customer = await buySavingCard(server, mock, user.id, randomStripeId("pm"));
  return { ...user, customer };
}

describe("auto top-up in the user's currency", () => {
  it("PUT takes a currency among the pack's prices; GET says it and its price; omitted: the pack's default", async () => {
    const packageId = await dollarAndEuroPack();
    const user = await signUp(server.url, "currency-choice");
    const euro = await optIn(server, user, { enabled: true, threshold: 50, packageId, currency: "eur" });
    expect(euro.status, JSON.stringify(euro.body)).toBe(200);
    expect(euro.body).toMatchObject({ packageId, currency: "eur", price: { currency: "eur", unitAmount: 450 } });
    expect((await autoTopUpOf(server, user)).body).toMatchObject({ currency: "eur", price: { unitAmount: 450 } });
    // Not sold in yen: a 400 that says so, and nothing changed.
    const yen = await optIn(server, user, { enabled: true, threshold: 60, packageId, currency: "jpy" });
    expect(yen.status).toBe(400);
    expect(yen.body.error.message).toMatch(/not priced in jpy/);
    expect((await autoTopUpOf(server, user)).body).toMatchObject({ threshold: 50, currency: "eur" });
    // Another user who does not say: the pack's default price.
    const other = await signUp(server.url, "currency-default");
    const defaulted = await optIn(server, other, { enabled: true, threshold: 50, packageId });
    expect(defaulted.body).toMatchObject({ currency: "usd", price: { currency: "usd", unitAmount: 500 } });
  });

  it("a user whose settings say EUR is charged the pack's EUR price", async () => {
    const packageId = await dollarAndEuroPack();
    const saver = await euroSaver(packageId);
    await spend(server, saver.id, 60);
    await server.services.autoTopUp.runOnce();
    const requests = intentRequests(mock, saver.customer);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.params).toMatchObject({ amount: "450", currency: "eur" });
    expect((await attemptsOf(saver.id)).map((a) => a.status)).toEqual(["succeeded"]);
    expect(await balanceOf(saver.id)).toBe(140);
  });

  it("the EUR price removed since: not charged (in EUR or in dollars), skipped, announced and mailed", async () => {
    const packageId = await dollarAndEuroPack();
    const saver = await euroSaver(packageId);
    const patched = await call(server.url, "PATCH", `/api/v1/admin/packages/${packageId}`, {
      cookie: admin.cookie,
      body: { prices: [{ currency: "usd", unitAmount: 500 }] },
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    await spend(server, saver.id, 60);
    await server.services.autoTopUp.runOnce();
    expect(intentRequests(mock, saver.customer)).toHaveLength(0);
    expect((await attemptsOf(saver.id)).map((a) => [a.status, a.reason])).toEqual([["skipped", "price_unavailable"]]);
    expect(await eventsOf(saver.id, "auto_topup.failed")).toMatchObject([{ reason: "price_unavailable" }]);
    // The mail says the pack is no longer sold in EUR and links to /account to choose another,
    // never to the pack (which cannot be bought in EUR any more).
    expect(await mailsOf(saver.id, "auto_topup_failed")).toMatchObject([
      { data: { packageId, reason: "price_unavailable", currency: "eur", payUrl: "http://localhost:3000/account" } },
    ]);
    const mail = await sentMail(saver.id);
    expect(mail.subject).toBe("Your automatic top-up did not go through: choose another pack");
    expect(mail.text).toMatch(
      /^Two currencies \w+, the pack you chose for automatic top-ups, is no longer sold in EUR, so we charged nothing\.$/m,
    );
    expect(mail.text).toContain("Choose another pack: http://localhost:3000/account");
    expect(mail.html).toContain('<a href="http://localhost:3000/account">Choose another pack</a>');
    expect(`${mail.text}${mail.html}`).not.toMatch(/Pay for it now|could not charge|\/credits/);
    // The API's first reasons stay as they were (a client's enum still parses); `cause` is precise.
    expect((await autoTopUpOf(server, saver)).body).toMatchObject({
      currency: "eur",
      price: null,
      lastAttempt: { status: "skipped", reason: "disabled", cause: "price_unavailable" },
    });
    expect(await balanceOf(saver.id)).toBe(40);
  });

  // The crossing fixes the offer (caps16 finding 2): what changes between it and the worker's
  // charge does not change what is charged.
  it("a price changed by an admin after the crossing: the crossing's price is charged", async () => {
    const packageId = await dollarAndEuroPack();
    const saver = await euroSaver(packageId);
    await spend(server, saver.id, 60);
    const patched = await call(server.url, "PATCH", `/api/v1/admin/packages/${packageId}`, {
      cookie: admin.cookie,
      body: {
        prices: [
          { currency: "usd", unitAmount: 500 },
          { currency: "eur", unitAmount: 990 },
        ],
      },
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    await server.services.autoTopUp.runOnce();
    expect(intentRequests(mock, saver.customer).map((r) => r.params)).toMatchObject([
      { amount: "450", currency: "eur" },
    ]);
    expect((await attemptsOf(saver.id)).map((a) => [a.status, a.amountMinor, a.currency])).toEqual([
      ["succeeded", 450, "eur"],
    ]);
    expect(await balanceOf(saver.id)).toBe(140);
  });

  // Issue 16 review item 4: the credits' expiry is part of the offer too.
  it("a pack's credit expiry changed by an admin after the crossing: the crossing's expiry is granted", async () => {
    const packageId = await dollarAndEuroPack(30);
    const saver = await euroSaver(packageId);
    await spend(server, saver.id, 60);
    const patched = await call(server.url, "PATCH", `/api/v1/admin/packages/${packageId}`, {
      cookie: admin.cookie,
      body: { creditExpiryDays: 2 },
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    await server.services.autoTopUp.runOnce();
    const [attempt] = await attemptsOf(saver.id);
    expect(attempt?.status).toBe("succeeded");
    expect((await paymentRow(attempt?.paymentId ?? ""))?.creditExpiryDays).toBe(30);
    const [grant] = await db
      .select({ days: sql<number>`round(extract(epoch from ${creditGrants.expiresAt} - now()) / 86400)` })
      .from(creditGrants)
      .where(and(eq(creditGrants.userId, saver.id), sql`${creditGrants.expiresAt} IS NOT NULL`))
      .orderBy(desc(creditGrants.createdAt))
      .limit(1);
    expect(Number(grant?.days)).toBe(30);
  });

  it("a currency changed by the user after the crossing: charged in the crossing's currency", async () => {
    const packageId = await dollarAndEuroPack();
    const saver = await euroSaver(packageId);
    await spend(server, saver.id, 60);
    const dollars = await optIn(server, saver, { enabled: true, threshold: 50, packageId, currency: "usd" });
    expect(dollars.status, JSON.stringify(dollars.body)).toBe(200);
    await server.services.autoTopUp.runOnce();
    expect(intentRequests(mock, saver.customer).map((r) => r.params)).toMatchObject([
      { amount: "450", currency: "eur" },
    ]);
    expect(await balanceOf(saver.id)).toBe(140);
  });

  it("the pack archived since: not charged, skipped with the same reason", async () => {
    const packageId = await dollarAndEuroPack();
    const saver = await euroSaver(packageId);
    const archived = await call(server.url, "POST", `/api/v1/admin/packages/${packageId}/archive`, {
      cookie: admin.cookie,
    });
    expect(archived.status).toBe(200);
    await spend(server, saver.id, 60);
    await server.services.autoTopUp.runOnce();
    expect(intentRequests(mock, saver.customer)).toHaveLength(0);
    expect((await attemptsOf(saver.id)).map((a) => [a.status, a.reason])).toEqual([["skipped", "price_unavailable"]]);
  });
});
