import { randomUUID } from "node:crypto";
import {
  type Clock,
  createAdminService,
  createCreditService,
  ForbiddenError,
  IdempotencyConflictError,
  InsufficientCreditsError,
  InvalidInputError,
  InvalidStateError,
} from "@credits/core";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createAdminStore } from "../src/admin-store.ts";
import { createLedgerStore } from "../src/ledger-store.ts";
import { adminActions, users } from "../src/schema.ts";
import { createUser, expectInvariantHolds, fundedUser } from "./fixtures.ts";
import { onPostgres, testDb } from "./setup.ts";

const { db } = testDb;
let now = new Date("2026-06-01T12:00:00Z");
const clock: Clock = { now: () => now };
const credits = createCreditService({ store: createLedgerStore(db), clock });
const admin = createAdminService({
  store: createAdminStore(db),
  clock,
  approvalThreshold: 10_000,
  approvalTtlMs: 3_600_000,
  approvalWindowMs: 86_400_000,
});

async function newAdmin(): Promise<string> {
  const id = await createUser(db);
  await db.update(users).set({ role: "admin" }).where(eq(users.id, id));
  return id;
}

const auditRows = (targetUserId: string) =>
  db.select().from(adminActions).where(eq(adminActions.targetUserId, targetUserId));

describe("adjustments below the threshold", () => {
  it("an admin crediting themself files a request at any amount, which only another admin can approve", async () => {
    const [self, other] = [await newAdmin(), await newAdmin()];
    const input = { actorId: self, userId: self, amount: 5, reason: "my own credits", idempotencyKey: randomUUID() };
    const filed = await admin.adjust(input);
    expect(filed.status).toBe("pending");
    expect(await credits.balance(self)).toBe(0);
    if (filed.status !== "pending") throw new Error("expected a pending request");
    const id = filed.adjustmentRequest.id;
    await expect(admin.approve({ adjustmentRequestId: id, actorId: self })).rejects.toBeInstanceOf(ForbiddenError);
    expect(await admin.approve({ adjustmentRequestId: id, actorId: other })).toMatchObject({
      status: "applied",
      balance: 5,
    });
    // A debit of one's own credits takes nothing from anyone: it applies at once.
    expect(await admin.adjust({ ...input, amount: -2, idempotencyKey: randomUUID() })).toMatchObject({
      status: "applied",
      balance: 3,
    });
  });

  it("a key already used by a grant is a conflict, not that grant answered as an adjustment", async () => {
    const [actorId, userId] = [await newAdmin(), await fundedUser(db, credits, 5)];
    const idempotencyKey = randomUUID();
    // The same caller: an admin's session keys are scoped to that admin.
    await credits.grant({
      scope: { kind: "user", id: actorId },
      userId,
      amount: 7,
      idempotencyKey,
      reason: "same words",
    });
    await expect(
      admin.adjust({ actorId, userId, amount: 7, reason: "same words", idempotencyKey }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
    expect(await auditRows(userId)).toHaveLength(0);
    expect(await credits.balance(userId)).toBe(12);
  });

  it("a credit reaches a balance a dispute took below zero, with an exact audit row", async () => {
    const [actorId, userId] = [await newAdmin(), await fundedUser(db, credits, 5)];
    await createLedgerStore(db).post({
      userId,
      amount: -8,
      kind: "dispute_clawback",
      idempotencyKey: `test:${randomUUID()}`,
      allowNegative: true,
    });
    const credit = { actorId, userId, reason: "goodwill after the dispute", idempotencyKey: randomUUID() };
    expect(await admin.adjust({ ...credit, amount: 2 })).toMatchObject({ status: "applied", balance: -1 });
    const [audit] = await auditRows(userId);
    expect(audit).toMatchObject({ amount: 2, balanceBefore: -3, balanceAfter: -1 });
    await expect(admin.adjust({ ...credit, amount: -1, idempotencyKey: randomUUID() })).rejects.toBeInstanceOf(
      InsufficientCreditsError,
    );
    await expectInvariantHolds(db);
  });

  it("apply at once, with the ledger row and an exact audit row in one go", async () => {
    const [actorId, userId] = [await newAdmin(), await fundedUser(db, credits, 100)];
    const result = await admin.adjust({
      actorId,
      userId,
      amount: -40,
      reason: "goodwill fix",
      idempotencyKey: randomUUID(),
      requestId: "req-1",
    });
    expect(result).toMatchObject({ status: "applied", balance: 60 });
    const [audit] = await auditRows(userId);
    expect(audit).toMatchObject({
      actorId,
      action: "adjust",
      amount: -40,
      balanceBefore: 100,
      balanceAfter: 60,
      requestId: "req-1",
      reason: "goodwill fix",
    });
    const { transactions } = await credits.history(userId);
    expect(transactions[0]).toMatchObject({ kind: "admin_adjustment", amount: -40, adminActionId: audit?.id });
    await expectInvariantHolds(db);
  });

  it("a double submit makes one adjustment and one audit row; a changed retry is a conflict", async () => {
    const [actorId, userId] = [await newAdmin(), await createUser(db)];
    const input = { actorId, userId, amount: 500, reason: "promo", idempotencyKey: randomUUID() };
    const results = await Promise.all([admin.adjust(input), admin.adjust(input), admin.adjust(input)]);
    expect(new Set(results.map((r) => (r.status === "applied" ? r.transactionId : "")))).toHaveProperty("size", 1);
    expect(await credits.balance(userId)).toBe(500);
    expect(await auditRows(userId)).toHaveLength(1);
    await expect(admin.adjust({ ...input, amount: 501 })).rejects.toBeInstanceOf(IdempotencyConflictError);
  });

  it("never takes a balance below zero, and needs a reason", async () => {
    const [actorId, userId] = [await newAdmin(), await fundedUser(db, credits, 10)];
    await expect(
      admin.adjust({ actorId, userId, amount: -11, reason: "too much", idempotencyKey: randomUUID() }),
    ).rejects.toBeInstanceOf(InsufficientCreditsError);
    await expect(
      admin.adjust({ actorId, userId, amount: 5, reason: "  ", idempotencyKey: randomUUID() }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    await expect(
      admin.adjust({ actorId, userId, amount: 0, reason: "zero", idempotencyKey: randomUUID() }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(await credits.balance(userId)).toBe(10);
    expect(await auditRows(userId)).toHaveLength(0);
  });
});

describe("adjustments above the threshold", () => {
  it("wait for a second admin, who applies them once", async () => {
    const [alice, bob, userId] = [await newAdmin(), await newAdmin(), await createUser(db)];
    const requested = await admin.adjust({
      actorId: alice,
      userId,
      amount: 20_000,
      reason: "enterprise deal",
      idempotencyKey: randomUUID(),
    });
    expect(requested.status).toBe("pending");
    if (requested.status !== "pending") return;
    expect(await credits.balance(userId)).toBe(0);
    const id = requested.adjustmentRequest.id;
    expect((await admin.pendingApprovals()).map((r) => r.id)).toContain(id);

    await expect(admin.approve({ adjustmentRequestId: id, actorId: alice })).rejects.toBeInstanceOf(ForbiddenError);
    const approvals = await Promise.all([
      admin.approve({ adjustmentRequestId: id, actorId: bob }),
      admin.approve({ adjustmentRequestId: id, actorId: bob }),
    ]);
    expect(approvals[0]).toEqual(approvals[1]);
    expect(await credits.balance(userId)).toBe(20_000);
    const audit = await auditRows(userId);
    expect(audit.map((a) => a.action).sort()).toEqual(["adjustment_approved", "adjustment_requested"]);
    expect(audit.find((a) => a.action === "adjustment_approved")).toMatchObject({
      actorId: bob,
      balanceBefore: 0,
      balanceAfter: 20_000,
    });
    await expect(admin.reject({ adjustmentRequestId: id, actorId: bob })).rejects.toBeInstanceOf(InvalidStateError);
    await expectInvariantHolds(db);
  });

  it("can be rejected, once, and then never applied", async () => {
    const [alice, bob, userId] = [await newAdmin(), await newAdmin(), await createUser(db)];
    const requested = await admin.adjust({
      actorId: alice,
      userId,
      amount: 50_000,
      reason: "typo?",
      idempotencyKey: randomUUID(),
    });
    if (requested.status !== "pending") throw new Error("expected pending");
    const id = requested.adjustmentRequest.id;
    await admin.reject({ adjustmentRequestId: id, actorId: bob });
    await admin.reject({ adjustmentRequestId: id, actorId: bob });
    await expect(admin.approve({ adjustmentRequestId: id, actorId: bob })).rejects.toBeInstanceOf(InvalidStateError);
    expect(await credits.balance(userId)).toBe(0);
    expect((await auditRows(userId)).map((a) => a.action).sort()).toEqual([
      "adjustment_rejected",
      "adjustment_requested",
    ]);
  });

  it("expire when nobody decides in time", async () => {
    const [alice, bob, userId] = [await newAdmin(), await newAdmin(), await createUser(db)];
    const requested = await admin.adjust({
      actorId: alice,
      userId,
      amount: -20_000,
      reason: "clawback",
      idempotencyKey: randomUUID(),
    });
    if (requested.status !== "pending") throw new Error("expected pending");
    now = new Date(now.getTime() + 3_600_001);
    await expect(admin.approve({ adjustmentRequestId: requested.adjustmentRequest.id, actorId: bob })).rejects.toThrow(
      "expired",
    );
    expect(await admin.expirePending()).toBeGreaterThanOrEqual(1);
    expect((await admin.pendingApprovals()).map((r) => r.id)).not.toContain(requested.adjustmentRequest.id);
    expect((await auditRows(userId)).map((a) => a.action).sort()).toEqual([
      "adjustment_expired",
      "adjustment_requested",
    ]);
  });

  it("the database refuses a request decided by its own requester", async () => {
    const [alice, userId] = [await newAdmin(), await createUser(db)];
    const requested = await admin.adjust({
      actorId: alice,
      userId,
      amount: 30_000,
      reason: "self",
      idempotencyKey: randomUUID(),
    });
    if (requested.status !== "pending") throw new Error("expected pending");
    await expect(
      db.execute(
        sql`UPDATE adjustment_requests SET decided_by = requested_by, status = 'approved' WHERE id = ${requested.adjustmentRequest.id}`,
      ),
    ).rejects.toThrow();
  });
});

describe("adjustments and the service clock", () => {
  // The service clock, not the database's, decides when a posting happened (and so what has
  // expired by then): the grant an adjustment creates is dated by it.
  it("an adjustment's grant is created at the service clock's now", async () => {
    const [actorId, userId] = [await newAdmin(), await createUser(db)];
    await admin.adjust({ actorId, userId, amount: 4, reason: "dated", idempotencyKey: randomUUID() });
    const [grant] = await credits.grantHistory(userId);
    expect(grant?.createdAt.getTime()).toBe(now.getTime());
  });
});

describe("admin reads", () => {
  it("filters the audit log and pages through it", async () => {
    const [actorId, userId] = [await newAdmin(), await createUser(db)];
    for (let i = 0; i < 5; i++)
      await admin.adjust({ actorId, userId, amount: 1, reason: `r${i}`, idempotencyKey: randomUUID() });
    const firstPage = await admin.auditLog({ actorId, limit: 3 });
    expect(firstPage).toHaveLength(3);
    const last = firstPage.at(-1);
    const rest = await admin.auditLog({
      actorId,
      limit: 3,
      ...(last ? { before: { createdAt: last.createdAt, id: last.id } } : {}),
    });
    expect([...firstPage, ...rest].map((a) => a.reason).sort()).toEqual(["r0", "r1", "r2", "r3", "r4"]);
    expect(await admin.auditLog({ actorId, action: "adjustment_requested" })).toEqual([]);
  });

  it("finds users by email or id and totals the days", async () => {
    const userId = await fundedUser(db, credits, 25);
    const [row] = await db.select({ email: users.email }).from(users).where(eq(users.id, userId));
    const byEmail = await admin.searchUsers(row?.email?.slice(0, 12) ?? "");
    expect(byEmail.map((u) => u.id)).toContain(userId);
    expect((await admin.searchUsers(userId)).map((u) => u.id)).toEqual([userId]);
    expect(await admin.searchUsers("%")).toEqual([]);
    const today = new Date();
    const days = await admin.dailyTotals(new Date(today.getTime() - 86_400_000), today);
    expect(days).toHaveLength(2);
    expect(days.at(-1)?.day).toBe(today.toISOString().slice(0, 10));
  });
});

describe.runIf(onPostgres)("on PostgreSQL", () => {
  it("concurrent adjustments of one user keep exact audit balances", async () => {
    const [actorId, userId] = [await newAdmin(), await createUser(db)];
    await Promise.all(
      Array.from({ length: 20 }, () =>
        admin.adjust({ actorId, userId, amount: 3, reason: "burst", idempotencyKey: randomUUID() }),
      ),
    );
    const audit = (await auditRows(userId)).sort((a, b) => (a.balanceBefore ?? 0) - (b.balanceBefore ?? 0));
    expect(audit.map((a) => [a.balanceBefore, a.balanceAfter])).toEqual(
      Array.from({ length: 20 }, (_, i) => [i * 3, i * 3 + 3]),
    );
  });
});
