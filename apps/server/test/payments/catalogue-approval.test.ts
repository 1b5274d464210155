// The two-person rule on prices (ADR 015; review 9 F3): one admin created a pack of 1,000,000
// credits for 50 US cents, a friend bought it, and had a million credits with no adjustment
// request, no review flag and no approval. A pack priced below every pack on sale in a currency now
// waits for an admin other than its creator: not listed, not sold, not chosen for auto top-up; an
// edit cannot take a pack on sale there. Through the real server over HTTP, the same rule the
// panel, tRPC and the REST API reach (one service).
import { adminActions } from "@credits/db/schema";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { call, db, signUp, startStripeMock, startTestServer, stripeEnv } from "./helpers.ts";
import { createAdmin } from "./refunds-helpers.ts";

startStripeMock();
const server = await startTestServer(stripeEnv);
const creator = await createAdmin(server);
const second = await createAdmin(server);

let count = 0;
const create = (cookie: string, fields: Record<string, unknown>) =>
  call(server.url, "POST", "/api/v1/admin/packages", {
    cookie,
    body: { name: `Priced ${++count}`, credits: 300, prices: [{ currency: "usd", unitAmount: 1_500 }], ...fields },
  });
const approve = (cookie: string, id: string) =>
  call(server.url, "POST", `/api/v1/admin/packages/${id}/approve`, { cookie });
const archive = (cookie: string, id: string) =>
  call(server.url, "POST", `/api/v1/admin/packages/${id}/archive`, { cookie });
const listed = async () =>
  ((await call(server.url, "GET", "/api/v1/packages")).body.packages as { id: string }[]).map((p) => p.id);

describe("a pack priced below every pack on sale", () => {
  it("waits for a second admin: not listed, not sold, the creator cannot approve it", async () => {
    const buyer = await signUp(server.url, "mint-buyer");
    const minted = await create(creator.cookie, { credits: 1_000_000, prices: [{ currency: "usd", unitAmount: 50 }] });
    expect(minted.status).toBe(200);
    expect(minted.body).toMatchObject({ awaitingApproval: true, createdBy: creator.id });
    const id = String(minted.body.id);
    expect(await listed()).not.toContain(id);
    const checkout = await call(server.url, "POST", "/api/v1/checkout", {
      cookie: buyer.cookie,
      body: { packageId: id },
    });
    expect(checkout.status).toBe(404);
    const topUp = await call(server.url, "PUT", "/api/v1/me/auto-topup", {
      cookie: buyer.cookie,
      body: { enabled: false, threshold: 10, packageId: id },
    });
    expect(topUp.status).toBe(404);
    // Nor can its creator edit it into shape, or approve it.
    const edit = await call(server.url, "PATCH", `/api/v1/admin/packages/${id}`, {
      cookie: creator.cookie,
      body: { name: "Renamed" },
    });
    expect(edit.status).toBe(409);
    const own = await approve(creator.cookie, id);
    expect(own.status).toBe(403);
    expect(own.body.error.code).toBe("FORBIDDEN");
    expect(await listed()).not.toContain(id);

    // A second admin approves: on sale, and the approval is audited with the terms approved.
    const approved = await approve(second.cookie, id);
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ awaitingApproval: false });
    expect(await listed()).toContain(id);
    expect((await approve(second.cookie, id)).status).toBe(200);
    const audit = await db.select().from(adminActions).where(eq(adminActions.action, "package.approved"));
    expect(audit.filter((row) => (row.detail as { packageId?: string }).packageId === id)).toHaveLength(1);
    // Off sale again, so the other cases price against the seeded catalogue.
    expect((await archive(second.cookie, id)).status).toBe(200);
  });

  it("a currency no pack on sale is priced in waits too; a price at the cheapest on sale does not", async () => {
    const chf = await create(creator.cookie, { prices: [{ currency: "chf", unitAmount: 1_500 }] });
    expect(chf.body).toMatchObject({ awaitingApproval: true });
    // The cheapest seeded pack sells 2,000 credits for 70.00 USD (3.5 cents a credit).
    const same = await create(creator.cookie, { credits: 200, prices: [{ currency: "usd", unitAmount: 700 }] });
    expect(same.body).toMatchObject({ awaitingApproval: false });
    const below = await create(creator.cookie, { credits: 200, prices: [{ currency: "usd", unitAmount: 699 }] });
    expect(below.body).toMatchObject({ awaitingApproval: true });
    // Two currencies: one below is enough.
    const mixed = await create(creator.cookie, {
      credits: 200,
      prices: [
        { currency: "usd", unitAmount: 5_000 },
        { currency: "eur", unitAmount: 5_000 },
      ],
    });
    expect(mixed.body).toMatchObject({ awaitingApproval: true });
  });

  it("an edit cannot price a pack on sale below every other pack; raising it or renaming it can", async () => {
    const pack = await create(creator.cookie, { credits: 100, prices: [{ currency: "usd", unitAmount: 1_000 }] });
    const id = String(pack.body.id);
    const patch = (body: Record<string, unknown>) =>
      call(server.url, "PATCH", `/api/v1/admin/packages/${id}`, { cookie: second.cookie, body });
    const cut = await patch({ credits: 1_000_000 });
    expect(cut.status).toBe(409);
    expect(cut.body.error.message).toMatch(/below every pack on sale in usd/);
    expect((await patch({ prices: [{ currency: "usd", unitAmount: 1 }] })).status).toBe(409);
    expect(
      (
        await patch({
          prices: [
            { currency: "usd", unitAmount: 1_000 },
            { currency: "jpy", unitAmount: 1 },
          ],
        })
      ).status,
    ).toBe(409);
    // Cheaper than it was but not below every other pack: one admin may.
    expect((await patch({ prices: [{ currency: "usd", unitAmount: 400 }] })).status).toBe(200);
    expect((await patch({ name: "Renamed", prices: [{ currency: "usd", unitAmount: 2_000 }] })).status).toBe(200);
    const unchanged = await call(server.url, "GET", "/api/v1/admin/packages", { cookie: second.cookie });
    expect((unchanged.body.packages as { id: string; credits: number }[]).find((p) => p.id === id)).toMatchObject({
      credits: 100,
      awaitingApproval: false,
    });
  });

  it("the cheapest pack on sale, approved so, keeps its price through an edit of its name", async () => {
    const cheapest = await create(creator.cookie, {
      credits: 10_000,
      prices: [{ currency: "usd", unitAmount: 10_000 }],
    });
    expect(cheapest.body).toMatchObject({ awaitingApproval: true });
    const id = String(cheapest.body.id);
    expect((await approve(second.cookie, id)).status).toBe(200);
    const renamed = await call(server.url, "PATCH", `/api/v1/admin/packages/${id}`, {
      cookie: creator.cookie,
      body: { name: "Bulk", position: 3 },
    });
    expect(renamed.status).toBe(200);
    // Lowering it further waits for a new pack and a second admin.
    const lower = await call(server.url, "PATCH", `/api/v1/admin/packages/${id}`, {
      cookie: creator.cookie,
      body: { prices: [{ currency: "usd", unitAmount: 9_000 }] },
    });
    expect(lower.status).toBe(409);
    expect((await archive(second.cookie, id)).status).toBe(200);
  });

  it("approving what does not exist, or an archived pack, is refused", async () => {
    expect((await approve(second.cookie, "00000000-0000-4000-8000-000000000000")).status).toBe(404);
    expect((await approve(second.cookie, "not-a-uuid")).status).toBe(400);
    const pack = await create(creator.cookie, { prices: [{ currency: "sek", unitAmount: 1_500 }] });
    const id = String(pack.body.id);
    expect((await archive(creator.cookie, id)).status).toBe(200);
    expect((await approve(second.cookie, id)).status).toBe(409);
  });
});
