// A retry (same idempotency key) of an adjustment or API-key grant that was filed for approval
// answers what became of the request (review9 F5): applied once approved (the approval's ledger
// row), refused once rejected or expired. It answered `pending` forever, so a tool retrying after
// a timeout could not tell a granted request from a refused one.
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

// Each path that files a request: an admin's adjustment and a key's grant, both above the threshold.
const paths = {
  adjustment: async () => {
    const [actorId, userId] = [await newAdmin(), await createUser(db)];
    const input = { actorId, userId, amount: 500, reason: "deal", idempotencyKey: randomUUID() };
    return { userId, send: () => admin.adjust(input) };
  },
  "key grant": async () => {
    const [key, userId] = [await newKey(await newAdmin()), await createUser(db)];
    const input = { userId, amount: 500, idempotencyKey: randomUUID() };
    return { userId, send: () => keyCredits.grant(key, input) };
  },
};

async function filed(path: keyof typeof paths) {
  const { userId, send } = await paths[path]();
  const first = await send();
  if (first.status !== "pending") throw new Error("expected a request");
  return { userId, send, request: first.adjustmentRequest, first };
}

describe.each(Object.keys(paths) as (keyof typeof paths)[])("a retried %s filed for approval", (path) => {
  it("pending: the same request", async () => {
    const { send, first } = await filed(path);
    expect(await send()).toEqual(first);
  });

  it("approved: the applied transaction, credited once", async () => {
    const { userId, send, request } = await filed(path);
    const approved = await admin.approve({ adjustmentRequestId: request.id, actorId: await newAdmin() });
    expect(approved.status).toBe("applied");
    expect(await send()).toEqual(approved);
    expect(await credits.balance(userId)).toBe(500);
    await expectInvariantHolds(db);
  });

  it("rejected: refused as rejected, nothing credited", async () => {
    const { userId, send, request } = await filed(path);
    await admin.reject({ adjustmentRequestId: request.id, actorId: await newAdmin() });
    await expect(send()).rejects.toMatchObject({ code: "IDEMPOTENCY_CONFLICT", message: /rejected/ });
    expect(await credits.balance(userId)).toBe(0);
  });

  it("expired, swept or not yet: refused as expired, no second request", async () => {
    const { userId, send, request } = await filed(path);
    const past = new Date(Date.now() - 1000);
    await db.update(adjustmentRequests).set({ expiresAt: past }).where(eq(adjustmentRequests.id, request.id));
    await expect(send()).rejects.toMatchObject({ code: "IDEMPOTENCY_CONFLICT", message: /expired/ });
    await admin.expirePending();
    await expect(send()).rejects.toMatchObject({ code: "IDEMPOTENCY_CONFLICT", message: /expired/ });
    const requests = await db.select().from(adjustmentRequests).where(eq(adjustmentRequests.targetUserId, userId));
    expect(requests).toHaveLength(1);
    expect(await credits.balance(userId)).toBe(0);
  });
});

// review9 F6, ADR 023: a retry of an applied grant is that grant, whichever side of the threshold
// the retry falls on (a deploy may lower ADMIN_APPROVAL_THRESHOLD between a grant and its retry),
// as for an adjustment (admin-retry-threshold.test.ts). It was a 409 above the threshold.
describe("a key grant applied, retried under a lower threshold", () => {
  it("answers the applied grant, files no request; other values are still a conflict", async () => {
    const lenient = createKeyCreditsService({ store: createKeyCreditsStore(db), ...rule, approvalThreshold: 1000 });
    const [key, userId] = [await newKey(await newAdmin()), await createUser(db)];
    const input = { userId, amount: 500, idempotencyKey: randomUUID(), reason: "launch" };
    const applied = await lenient.grant(key, input);
    expect(applied.status).toBe("applied");
    expect(await keyCredits.grant(key, input)).toEqual(applied);
    await expect(keyCredits.grant(key, { ...input, reason: "other" })).rejects.toMatchObject({
      code: "IDEMPOTENCY_CONFLICT",
    });
    expect(await db.select().from(adjustmentRequests).where(eq(adjustmentRequests.targetUserId, userId))).toEqual([]);
    expect(await credits.balance(userId)).toBe(500);
  });
});
