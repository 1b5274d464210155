// Hostile input against the catalogue and checkout, through the real server: every refusal is the
// right status with `{ error: { code, message } }` and changes nothing (no pack, no price, no audit
// row, no payment, no Stripe call).
import { adminActions, creditPackagePrices, creditPackages, payments } from "@credits/db/schema";
import { count } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { packOnSale } from "./catalogue-helpers.ts";
import {
  adminWithKey,
  call,
  db,
  deliver,
  failOnLoggedError,
  paymentRow,
  sessionEvent,
  sessionIdOf,
  signUp,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
failOnLoggedError();
const admin = await adminWithKey(server, ["credits:read", "credits:grant", "credits:spend"]);
const buyer = await signUp(server.url, "hostile-buyer");

const valid = { name: "Hostile", credits: 100, prices: [{ currency: "usd", unitAmount: 500 }] };
const createAs = (auth: { cookie?: string; key?: string }, body: unknown) =>
  call(server.url, "POST", "/api/v1/admin/packages", { ...auth, body });
const create = (body: unknown) => createAs({ cookie: admin.cookie }, body);

async function counts() {
  const [packs] = await db.select({ n: count() }).from(creditPackages);
  const [prices] = await db.select({ n: count() }).from(creditPackagePrices);
  const [audit] = await db.select({ n: count() }).from(adminActions);
  const [paid] = await db.select({ n: count() }).from(payments);
  return { packs: packs?.n, prices: prices?.n, audit: audit?.n, payments: paid?.n, sessions: sessionCalls() };
}
const sessionCalls = () => mock.requestsTo("POST", "/v1/checkout/sessions").length;

async function expectRefused(reply: { status: number; body: unknown }, status: number, code: string) {
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  // A validation error also names the fields at fault.
  expect(reply.body).toEqual({ error: { code, message: expect.any(String), ...fieldsOf(reply.body) } });
}

function fieldsOf(body: unknown) {
  const fields = (body as { error?: { fields?: unknown } }).error?.fields;
  return fields === undefined ? {} : { fields: expect.any(Object) };
}

const hostileCreates: [string, unknown][] = [
  ["a NUL in the name", { ...valid, name: "Gold\u0000" }],
  ["an escape sequence in the name", { ...valid, name: "Gold\u001b[31m" }],
  ["a bidirectional override in the name", { ...valid, name: "Gold\u202e" }],
  ["a line break in the name", { ...valid, name: "Gold\npack" }],
  ["a blank name", { ...valid, name: "   " }],
  ["a 101-character name", { ...valid, name: "x".repeat(101) }],
  ["a name that is a number", { ...valid, name: 42 }],
  ["zero credits", { ...valid, credits: 0 }],
  ["negative credits", { ...valid, credits: -5 }],
  ["huge credits", { ...valid, credits: 1e15 }],
  ["fractional credits", { ...valid, credits: 1.5 }],
  ["credits as a string", { ...valid, credits: "100" }],
  ["no prices", { ...valid, prices: [] }],
  ["prices not an array", { ...valid, prices: { currency: "usd", unitAmount: 500 } }],
  ["21 prices", { ...valid, prices: Array.from({ length: 21 }, () => ({ currency: "usd", unitAmount: 1 })) }],
  ["an unknown currency", { ...valid, prices: [{ currency: "xyz", unitAmount: 500 }] }],
  ["an uppercase currency", { ...valid, prices: [{ currency: "USD", unitAmount: 500 }] }],
  ["a 3-letter garbage currency", { ...valid, prices: [{ currency: "a1$", unitAmount: 500 }] }],
  ["a long currency", { ...valid, prices: [{ currency: "u".repeat(10_000), unitAmount: 500 }] }],
  ["a currency with a NUL", { ...valid, prices: [{ currency: "us\u0000", unitAmount: 500 }] }],
  ["a currency as a number", { ...valid, prices: [{ currency: 840, unitAmount: 500 }] }],
  [
    "the same currency twice",
    {
      ...valid,
      prices: [
        { currency: "eur", unitAmount: 500 },
        { currency: "eur", unitAmount: 400 },
      ],
    },
  ],
  ["an amount of zero", { ...valid, prices: [{ currency: "usd", unitAmount: 0 }] }],
  ["a negative amount", { ...valid, prices: [{ currency: "usd", unitAmount: -500 }] }],
  ["an amount past Stripe's eight digits", { ...valid, prices: [{ currency: "jpy", unitAmount: 100_000_000 }] }],
  ["a fractional amount", { ...valid, prices: [{ currency: "usd", unitAmount: 4.99 }] }],
  ["an amount as a string", { ...valid, prices: [{ currency: "usd", unitAmount: "500" }] }],
  ["a KWD amount not ending in 0", { ...valid, prices: [{ currency: "kwd", unitAmount: 1_255 }] }],
  ["fractional ISK", { ...valid, prices: [{ currency: "isk", unitAmount: 50_050 }] }],
  ["an unknown field on a price", { ...valid, prices: [{ currency: "usd", unitAmount: 500, tax: 1 }] }],
  ["an unknown field", { ...valid, active: false }],
  ["an expiry of 0 days", { ...valid, creditExpiryDays: 0 }],
  ["an expiry of 3651 days", { ...valid, creditExpiryDays: 3_651 }],
  ["a negative position", { ...valid, position: -1 }],
  ["a huge position", { ...valid, position: 2 ** 31 }],
  ["highlight as a string", { ...valid, highlight: "yes" }],
  ["no body fields at all", {}],
  ["a JSON array", [valid]],
];

describe("hostile pack creation", () => {
  it.each(hostileCreates)("%s: 400, nothing created", async (_label, body) => {
    const before = await counts();
    await expectRefused(await create(body), 400, "INVALID_INPUT");
    expect(await counts()).toEqual(before);
  });

  it("a retried create with the same key answers the same pack once; other fields under it are a 409", async () => {
    const body = { ...valid, idempotencyKey: "create-once" };
    const first = await create(body);
    expect(first.status).toBe(200);
    const before = await counts();
    expect((await create(body)).body).toEqual(first.body);
    await expectRefused(await create({ ...body, credits: 101 }), 409, "IDEMPOTENCY_CONFLICT");
    expect(await counts()).toEqual(before);
  });
});

describe("who may manage packs", () => {
  const paths = async () => {
    const created = await create(valid);
    return [
      ["POST", "/api/v1/admin/packages", valid],
      ["PATCH", `/api/v1/admin/packages/${created.body.id}`, { name: "Taken over" }],
      ["POST", `/api/v1/admin/packages/${created.body.id}/archive`, undefined],
      ["GET", "/api/v1/admin/packages", undefined],
    ] as const;
  };

  it("anonymous: 401; a signed-in user: 403; an API key of any scope: refused; nothing changes", async () => {
    for (const [method, path, body] of await paths()) {
      const before = await counts();
      await expectRefused(await call(server.url, method, path, { body }), 401, "UNAUTHENTICATED");
      await expectRefused(await call(server.url, method, path, { cookie: buyer.cookie, body }), 403, "FORBIDDEN");
      const viaKey = await call(server.url, method, path, { key: admin.key, body });
      // Admin procedures take a session: a key (even an admin's, with every scope) is not one.
      expect([401, 403]).toContain(viaKey.status);
      expect(viaKey.body.error.code).toMatch(/UNAUTHENTICATED|FORBIDDEN/);
      expect(await counts()).toEqual(before);
    }
  });
});

describe("hostile edits", () => {
  it("an unknown id is a 404, a malformed one a 400; hostile fields a 400; nothing changes", async () => {
    const pack = (await create(valid)).body;
    const before = await counts();
    const patch = (id: string, body: unknown) =>
      call(server.url, "PATCH", `/api/v1/admin/packages/${id}`, { cookie: admin.cookie, body });
    await expectRefused(await patch("00000000-0000-4000-8000-000000000000", { name: "x" }), 404, "NOT_FOUND");
    await expectRefused(await patch("not-a-uuid", { name: "x" }), 400, "INVALID_INPUT");
    for (const [, body] of hostileCreates.filter(([label]) => label !== "no body fields at all")) {
      await expectRefused(await patch(pack.id, body), 400, "INVALID_INPUT");
    }
    await expectRefused(await patch(pack.id, { prices: [] }), 400, "INVALID_INPUT");
    await expectRefused(await patch(pack.id, { id: pack.id, slug: "taken" }), 400, "INVALID_INPUT");
    expect(await counts()).toEqual(before);
    const unchanged = await call(server.url, "GET", "/api/v1/admin/packages", { cookie: admin.cookie });
    expect(unchanged.body.packages).toContainEqual(pack);
  });
});

// The named seed test: a checkout for a pack that is not on sale, or at an amount that is not the
// pack's, is refused or flagged: never a payment at a wrong amount, never a credit.
describe("test_invalid_payment_amounts", () => {
  const checkout = (body: unknown) => call(server.url, "POST", "/api/v1/checkout", { cookie: buyer.cookie, body });

  it("an unknown pack: 404, no payment, no Stripe session", async () => {
    const before = await counts();
    await expectRefused(await checkout({ packageId: "00000000-0000-4000-8000-000000000000" }), 404, "NOT_FOUND");
    expect(await counts()).toEqual(before);
  });

  it("an archived pack: 404, no payment, no Stripe session", async () => {
    const pack = (await create(valid)).body;
    expect(
      (await call(server.url, "POST", `/api/v1/admin/packages/${pack.id}/archive`, { cookie: admin.cookie })).status,
    ).toBe(200);
    const before = await counts();
    await expectRefused(await checkout({ packageId: pack.id }), 404, "NOT_FOUND");
    expect(await counts()).toEqual(before);
  });

  it.each([
    ["a currency the pack has no price in", "eur"],
    ["an uppercase currency", "USD"],
    ["an unknown currency", "zzz"],
    ["a currency that is not a string", 840],
  ])("%s: 400, no payment, no Stripe session", async (_label, currency) => {
    const pack = (await create(valid)).body;
    const before = await counts();
    await expectRefused(await checkout({ packageId: pack.id, currency }), 400, "INVALID_INPUT");
    expect(await counts()).toEqual(before);
  });

  it("a session paid at another amount or currency than the payment's is flagged, not credited", async () => {
    const pack = await packOnSale(server, admin, { ...valid, prices: [{ currency: "jpy", unitAmount: 500 }] });
    for (const overrides of [{ amount_total: 5 }, { currency: "usd" }]) {
      const started = await checkout({ packageId: pack.id });
      expect(started.status).toBe(201);
      const event = sessionEvent(mock, sessionIdOf(started.body.checkoutUrl), "checkout.session.completed", {
        overrides,
      });
      expect((await deliver(server.url, event)).status).toBe(200);
      const row = await paymentRow(started.body.paymentId);
      expect(row.creditedAt).toBeNull();
      expect(row.reviewReason).toMatch(/^amount mismatch: paid .* expected 500 jpy$/);
    }
  });
});
