// A grant through an API key moves credits on its owner's word alone, as that admin's adjustment
// would: it counts in the user's approval window with their adjustments (one total), or one admin
// could mint any amount to a friend as many small grants without a second admin. The window is
// the database's clock, which stamps the ledger rows.
import { randomUUID } from "node:crypto";
import {
  type ApiKeyPrincipal,
  createAdminService,
  createCreditService,
  createKeyCreditsService,
  NO_LIMITS,
} from "@credits/core";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createAdminStore } from "../src/admin-store.ts";
import { createKeyCreditsStore } from "../src/auth-stores.ts";
import { createLedgerStore } from "../src/ledger-store.ts";
import { adjustmentRequests, apiKeys, users } from "../src/schema.ts";
import { createUser, expectInvariantHolds } from "./fixtures.ts";
import { testDb } from "./setup.ts";

const { db } = testDb;
const credits = createCreditService({ store: createLedgerStore(db) });
const rule = { approvalThreshold: 100, approvalTtlMs: 3_600_000, approvalWindowMs: 24 * 3_600_000 };
const admin = createAdminService({ store: createAdminStore(db), ...rule });
const keyCredits = createKeyCreditsService({ store: createKeyCreditsStore(db), ...rule });

async function newAdmin(): Promise<string> {
  const id = await createUser(db);
  await db.update(users).set({ role: "admin" }).where(eq(users.id, id));
  return id;
}

async function newKey(ownerUserId: string): Promise<ApiKeyPrincipal> {
  const id = randomUUID();
  await db
    .insert(apiKeys)
    .values({ id, name: "tool", prefix: "ck_test", keyHash: id, scopes: ["credits:grant"], ownerUserId });
  return { id, name: "tool", scopes: ["credits:grant"], ownerUserId, limits: NO_LIMITS };
}

const grant = (key: ApiKeyPrincipal, userId: string, amount: number, idempotencyKey = randomUUID()) =>
  keyCredits.grant(key, { userId, amount, idempotencyKey });
const adjust = (actorId: string, userId: string, amount: number) =>
  admin.adjust({ actorId, userId, amount, reason: "support", idempotencyKey: randomUUID() });
const requestsFor = (userId: string) =>
  db.select().from(adjustmentRequests).where(eq(adjustmentRequests.targetUserId, userId));

describe("API-key grants in the approval window", () => {
  it("concurrent small grants to one user: exactly the threshold's worth applied, the rest requests", async () => {
    const key = await newKey(await newAdmin());
    const userId = await createUser(db);
    const results = await Promise.all(Array.from({ length: 10 }, () => grant(key, userId, 20)));
    expect(results.filter((result) => result.status === "applied")).toHaveLength(5);
    expect(results.filter((result) => result.status === "pending")).toHaveLength(5);
    expect(await credits.balance(userId)).toBe(100);
    expect(await requestsFor(userId)).toHaveLength(5);
    await expectInvariantHolds(db);
  });

  it("grants and panel adjustments add up to one total, whichever comes first", async () => {
    const owner = await newAdmin();
    const key = await newKey(owner);
    const [first, second] = [await createUser(db), await createUser(db)];
    // Grants, then an adjustment by another admin.
    expect(await grant(key, first, 60)).toMatchObject({ status: "applied", balance: 60 });
    expect(await adjust(await newAdmin(), first, 50)).toMatchObject({ status: "pending" });
    expect(await adjust(owner, first, -40)).toMatchObject({ status: "applied", balance: 20 });
    expect(await grant(key, first, 1)).toMatchObject({ status: "pending" });
    // An adjustment, then a grant.
    expect(await adjust(owner, second, 70)).toMatchObject({ status: "applied", balance: 70 });
    expect(await grant(key, second, 31)).toMatchObject({ status: "pending" });
    expect(await grant(key, second, 30)).toMatchObject({ status: "applied", balance: 100 });
    expect([await credits.balance(first), await credits.balance(second)]).toEqual([20, 100]);
  });

  it("a grant filed by the window: replayed, the same request; approved, applied exactly once and replayed as applied", async () => {
    const owner = await newAdmin();
    const key = await newKey(owner);
    const userId = await createUser(db);
    expect(await grant(key, userId, 80)).toMatchObject({ status: "applied", balance: 80 });
    const idempotencyKey = randomUUID();
    const filed = await grant(key, userId, 40, idempotencyKey);
    expect(filed.status).toBe("pending");
    expect(await grant(key, userId, 40, idempotencyKey)).toEqual(filed);
    await expect(grant(key, userId, 41, idempotencyKey)).rejects.toMatchObject({ code: "IDEMPOTENCY_CONFLICT" });
    if (filed.status !== "pending") throw new Error("not filed");
    const approval = { adjustmentRequestId: filed.adjustmentRequest.id, actorId: await newAdmin() };
    expect(await admin.approve(approval)).toMatchObject({ status: "applied", balance: 120 });
    expect(await admin.approve(approval)).toMatchObject({ status: "applied", balance: 120 });
    expect(await grant(key, userId, 40, idempotencyKey)).toMatchObject({ status: "applied", balance: 120 });
    expect(await credits.balance(userId)).toBe(120);
    expect(await requestsFor(userId)).toHaveLength(1);
    await expectInvariantHolds(db);
  });
});
