// Packs managed by admins, priced in several currencies, bought through Stripe Checkout (msw):
// zero- and three-decimal currencies end to end, a price change or archive never touching a
// payment already started, every change audited.
import { adminActions, creditGrants, payments } from "@credits/db/schema";
import { eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { packOnSale } from "./catalogue-helpers.ts";
import {
  adminWithKey,
  balanceOf,
  call,
  db,
  deliver,
  paymentRow,
  sessionEvent,
  sessionIdOf,
  signUp,
  startStripeMock,
  startTestServer,
  stripeEnv,
  type TestUser,
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
const admin = await adminWithKey(server, ["credits:read"]);

let packCount = 0;
const createPack = (fields: Record<string, unknown> = {}) =>
  packOnSale(server, admin, {
    name: `Catalogue ${++packCount}`,
    credits: 300,
    prices: [{ currency: "usd", unitAmount: 1_500 }],
    ...fields,
  });

const patchPack = (id: string, body: Record<string, unknown>) =>
  call(server.url, "PATCH", `/api/v1/admin/packages/${id}`, { cookie: admin.cookie, body });
const archivePack = (id: string) =>
  call(server.url, "POST", `/api/v1/admin/packages/${id}/archive`, { cookie: admin.cookie });
const checkout = (user: TestUser, body: Record<string, unknown>) =>
  call(server.url, "POST", "/api/v1/checkout", { cookie: user.cookie, body });

const lineItemOf = (paymentId: string) => {
  const [request] = mock
    .requestsTo("POST", "/v1/checkout/sessions")
    .filter((r) => r.params.client_reference_id === paymentId);
  return {
    currency: request?.params["line_items[0][price_data][currency]"],
    unitAmount: request?.params["line_items[0][price_data][unit_amount]"],
  };
};

// Pays a checkout: Stripe's completed event for its session, signed, delivered.
async function pay(checkoutUrl: string, paymentId: string) {
  const sessionId = sessionIdOf(checkoutUrl);
  const reply = await deliver(server.url, sessionEvent(mock, sessionId, "checkout.session.completed"));
  expect(reply.status).toBe(200);
  return paymentRow(paymentId);
}

describe("a pack priced in several currencies", () => {
  const prices = [
    { currency: "jpy", unitAmount: 500 },
    { currency: "kwd", unitAmount: 1_250 },
    { currency: "usd", unitAmount: 499 },
  ];

  it("is listed with every price, its first as the default, in display order", async () => {
    const created = await createPack({ prices, position: 0, highlight: true, creditExpiryDays: 90 });
    expect(created).toMatchObject({
      prices,
      priceMinor: 500,
      currency: "jpy",
      position: 0,
      highlight: true,
      creditExpiryDays: 90,
      archivedAt: null,
    });
    expect(created.slug).toMatch(/^catalogue-\d+-[0-9a-f]{6}$/);
    const listed = await call(server.url, "GET", "/api/v1/packages");
    const positions = listed.body.packages.map((p: { position: number }) => p.position);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    const mine = listed.body.packages.find((p: { id: string }) => p.id === created.id);
    expect(mine).toEqual({
      id: created.id,
      slug: created.slug,
      name: created.name,
      credits: 300,
      prices,
      priceMinor: 500,
      currency: "jpy",
      creditExpiryDays: 90,
      position: 0,
      highlight: true,
    });
  });

  it.each([
    ["jpy", 500, "a zero-decimal currency"],
    ["kwd", 1_250, "a three-decimal currency"],
    ["usd", 499, "a two-decimal currency"],
  ])("bought in %s (%s): Stripe's line item, our payment and the credit agree (%s)", async (currency, amount) => {
    const pack = await createPack({ prices });
    const user = await signUp(server.url);
    const started = await checkout(user, { packageId: pack.id, currency });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    expect(lineItemOf(started.body.paymentId)).toEqual({ currency, unitAmount: String(amount) });
    const paid = await pay(started.body.checkoutUrl, started.body.paymentId);
    expect(paid).toMatchObject({ amountMinor: amount, currency, credits: 300, status: "paid", reviewReason: null });
    expect(await balanceOf(user.id)).toBe(300);
    const shown = await call(server.url, "GET", `/api/v1/payments/${started.body.paymentId}`, { cookie: user.cookie });
    expect(shown.body).toMatchObject({ amountMinor: amount, currency, credited: true });
  });

  it("without a currency, checkout charges the pack's first price", async () => {
    const pack = await createPack({ prices });
    const user = await signUp(server.url);
    const started = await checkout(user, { packageId: pack.id });
    expect(started.status).toBe(201);
    expect(lineItemOf(started.body.paymentId)).toEqual({ currency: "jpy", unitAmount: "500" });
  });

  it("a currency the pack is not priced in is a 400 that creates nothing", async () => {
    const pack = await createPack({ prices });
    const user = await signUp(server.url);
    const reply = await checkout(user, { packageId: pack.id, currency: "eur" });
    expect(reply.status).toBe(400);
    expect(reply.body.error).toEqual({
      code: "INVALID_INPUT",
      message: "this pack is not priced in eur; it is sold in jpy, kwd, usd",
    });
    expect(await db.select().from(payments).where(eq(payments.userId, user.id))).toEqual([]);
  });

  it("the same checkout key with another currency is a 409, with the same currency the same session", async () => {
    const pack = await createPack({ prices });
    const user = await signUp(server.url);
    const body = { packageId: pack.id, currency: "kwd", idempotencyKey: "double-submit" };
    const first = await checkout(user, body);
    expect((await checkout(user, body)).body).toEqual(first.body);
    expect((await checkout(user, { ...body, currency: "usd" })).status).toBe(409);
  });
});

describe("changing a pack never changes a payment already started", () => {
  it("a price change: the open checkout is paid at its own price and credited; new checkouts pay the new one", async () => {
    const pack = await createPack({ prices: [{ currency: "usd", unitAmount: 1_000 }], creditExpiryDays: 30 });
    const user = await signUp(server.url);
    const before = await checkout(user, { packageId: pack.id });
    const edited = await patchPack(pack.id, {
      credits: 999,
      prices: [{ currency: "usd", unitAmount: 2_000 }],
      creditExpiryDays: null,
    });
    expect(edited.status).toBe(200);
    const paid = await pay(before.body.checkoutUrl, before.body.paymentId);
    expect(paid).toMatchObject({ amountMinor: 1_000, credits: 300, creditExpiryDays: 30, status: "paid" });
    expect(await balanceOf(user.id)).toBe(300);
    // The grant keeps the expiry the payment was sold with, not the pack's new "never".
    const [grant] = await db
      .select({ expiresAt: creditGrants.expiresAt })
      .from(creditGrants)
      .where(eq(creditGrants.userId, user.id));
    expect(grant?.expiresAt).not.toBeNull();

    const after = await checkout(user, { packageId: pack.id });
    expect(lineItemOf(after.body.paymentId)).toEqual({ currency: "usd", unitAmount: "2000" });
    expect(await paymentRow(after.body.paymentId)).toMatchObject({ credits: 999, creditExpiryDays: null });
  });

  it("archiving: an open checkout still completes and credits; the pack is no longer listed or sold", async () => {
    const pack = await createPack();
    const user = await signUp(server.url);
    const open = await checkout(user, { packageId: pack.id });
    const archived = await archivePack(pack.id);
    expect(archived.status).toBe(200);
    expect(archived.body.archivedAt).toEqual(expect.any(String));
    // Archiving again answers the same pack and audits nothing more.
    expect((await archivePack(pack.id)).body).toEqual(archived.body);

    const paid = await pay(open.body.checkoutUrl, open.body.paymentId);
    expect(paid).toMatchObject({ status: "paid", credits: 300, reviewReason: null });
    expect(await balanceOf(user.id)).toBe(300);

    const listed = await call(server.url, "GET", "/api/v1/packages");
    expect(listed.body.packages.map((p: { id: string }) => p.id)).not.toContain(pack.id);
    const all = await call(server.url, "GET", "/api/v1/admin/packages", { cookie: admin.cookie });
    expect(all.body.packages).toContainEqual(expect.objectContaining({ id: pack.id, archivedAt: expect.any(String) }));
    const again = await checkout(user, { packageId: pack.id });
    expect(again.status).toBe(404);
    // An archived pack is not edited (a new pack is made instead).
    expect((await patchPack(pack.id, { name: "Revived" })).status).toBe(409);
  });
});

describe("audit", () => {
  it("records who created, changed (before and after) and archived a pack, once each", async () => {
    const pack = await createPack({ name: "Audited" });
    expect((await patchPack(pack.id, { name: "Audited too", highlight: true })).status).toBe(200);
    // An edit that changes nothing writes no audit row.
    expect((await patchPack(pack.id, { name: "Audited too" })).status).toBe(200);
    await archivePack(pack.id);
    await archivePack(pack.id);
    const rows = await db
      .select({ action: adminActions.action, actorId: adminActions.actorId, detail: adminActions.detail })
      .from(adminActions)
      .where(inArray(adminActions.action, ["package.created", "package.updated", "package.archived"]))
      .orderBy(adminActions.createdAt);
    const mine = rows.filter((r) => (r.detail as { packageId?: string } | null)?.packageId === pack.id);
    const actorId = mine[0]?.actorId;
    expect(actorId).toEqual(expect.any(String));
    expect(mine).toEqual([
      {
        action: "package.created",
        actorId,
        detail: {
          packageId: pack.id,
          after: {
            name: "Audited",
            credits: 300,
            prices: [{ currency: "usd", unitAmount: 1_500 }],
            creditExpiryDays: null,
            position: 0,
            highlight: false,
          },
        },
      },
      {
        action: "package.updated",
        actorId,
        detail: {
          packageId: pack.id,
          before: { name: "Audited", highlight: false },
          after: { name: "Audited too", highlight: true },
        },
      },
      { action: "package.archived", actorId, detail: { packageId: pack.id, name: "Audited too" } },
    ]);
  });
});
