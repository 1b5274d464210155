// A retried adjustment is answered by what its key already did, whichever side of the approval
// threshold the retry falls on: the CLI and the server read ADMIN_APPROVAL_THRESHOLD each from
// their own environment, and a deploy may change it between a request and its retry. Otherwise
// one request would be applied at once and also filed for approval (credited twice).
import { randomUUID } from "node:crypto";
import { createAdminService, createCreditService, IdempotencyConflictError } from "@credits/core";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createAdminStore } from "../src/admin-store.ts";
import { createLedgerStore } from "../src/ledger-store.ts";
import { adjustmentRequests, users } from "../src/schema.ts";
import { createUser, expectInvariantHolds } from "./fixtures.ts";
import { testDb } from "./setup.ts";

const { db } = testDb;
const credits = createCreditService({ store: createLedgerStore(db) });
const withThreshold = (approvalThreshold: number) =>
  createAdminService({
    store: createAdminStore(db),
    approvalThreshold,
    approvalTtlMs: 3_600_000,
    approvalWindowMs: 86_400_000,
  });
const strict = withThreshold(10_000);
const lenient = withThreshold(50_000);

async function newAdmin(): Promise<string> {
  const id = await createUser(db);
  await db.update(users).set({ role: "admin" }).where(eq(users.id, id));
  return id;
}

const requestsFor = (userId: string) =>
  db.select().from(adjustmentRequests).where(eq(adjustmentRequests.targetUserId, userId));

describe("an adjustment retried across a change of the approval threshold", () => {
  it("filed for approval, then retried under a higher threshold: still the one pending request", async () => {
    const [alice, bob, userId] = [await newAdmin(), await newAdmin(), await createUser(db)];
    const input = { actorId: alice, userId, amount: 20_000, reason: "deal", idempotencyKey: randomUUID() };
    const filed = await strict.adjust(input);
    if (filed.status !== "pending") throw new Error("expected pending");
    const retried = await lenient.adjust(input);
    expect(retried).toEqual(filed);
    expect(await credits.balance(userId)).toBe(0);
    await strict.approve({ adjustmentRequestId: filed.adjustmentRequest.id, actorId: bob });
    expect(await credits.balance(userId)).toBe(20_000);
    await expect(lenient.adjust({ ...input, amount: 20_001 })).rejects.toBeInstanceOf(IdempotencyConflictError);
    await expectInvariantHolds(db);
  });

  it("applied, then retried under a lower threshold: the applied adjustment, no request filed", async () => {
    const [alice, userId] = [await newAdmin(), await createUser(db)];
    const input = { actorId: alice, userId, amount: 20_000, reason: "deal", idempotencyKey: randomUUID() };
    const applied = await lenient.adjust(input);
    expect(applied.status).toBe("applied");
    expect(await strict.adjust(input)).toEqual(applied);
    expect(await requestsFor(userId)).toHaveLength(0);
    await expect(strict.adjust({ ...input, reason: "other" })).rejects.toBeInstanceOf(IdempotencyConflictError);
    expect(await credits.balance(userId)).toBe(20_000);
    await expectInvariantHolds(db);
  });
});
