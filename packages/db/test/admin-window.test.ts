// Review finding 9: an adjustment above the approval threshold needs a second admin, so a large one
// split into many small ones must too. The threshold bounds, per target user, what admins move on
// their own within the window in all (every path, REST, tRPC, panel and CLI, goes through this
// service). The window is the database's clock, which stamps the ledger rows.
import { randomUUID } from "node:crypto";
import { createAdminService, createCreditService } from "@credits/core";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createAdminStore } from "../src/admin-store.ts";
import { createLedgerStore } from "../src/ledger-store.ts";
import { users } from "../src/schema.ts";
import { createUser, fundedUser } from "./fixtures.ts";
import { testDb } from "./setup.ts";

const { db } = testDb;
const credits = createCreditService({ store: createLedgerStore(db) });
const rule = { approvalThreshold: 100, approvalTtlMs: 3_600_000 };
const admin = createAdminService({ store: createAdminStore(db), ...rule, approvalWindowMs: 24 * 3_600_000 });
// The same rule over a window short enough to see it pass.
const brief = createAdminService({ store: createAdminStore(db), ...rule, approvalWindowMs: 1_500 });

async function newAdmin(): Promise<string> {
  const id = await createUser(db);
  await db.update(users).set({ role: "admin" }).where(eq(users.id, id));
  return id;
}
const adjust = (actorId: string, userId: string, amount: number, idempotencyKey = randomUUID()) =>
  admin.adjust({ actorId, userId, amount, reason: "support", idempotencyKey });

describe("adjustments split under the approval threshold", () => {
  it("add up per user within the window, whoever makes them: past the threshold they are requests", async () => {
    const [first, second] = [await newAdmin(), await newAdmin()];
    const userId = await fundedUser(db, credits, 50);
    expect(await adjust(first, userId, 60)).toMatchObject({ status: "applied", balance: 110 });
    const key = randomUUID();
    expect(await adjust(first, userId, 30, key)).toMatchObject({ status: "applied", balance: 140 });
    // 90 moved: 20 more is 110, over 100.
    expect(await adjust(first, userId, 20)).toMatchObject({ status: "pending" });
    // A retry of an applied one is that adjustment again, not a request.
    expect(await adjust(first, userId, 30, key)).toMatchObject({ status: "applied", balance: 140 });
    // Debits count by their size, and another admin's moves count as much.
    expect(await adjust(second, userId, -15)).toMatchObject({ status: "pending" });
    expect(await adjust(second, userId, 10)).toMatchObject({ status: "applied", balance: 150 });
    expect(await adjust(second, userId, 1)).toMatchObject({ status: "pending" });
    expect(await credits.balance(userId)).toBe(150);
    // Another user has room of their own.
    expect(await adjust(first, await fundedUser(db, credits, 0), 100)).toMatchObject({ status: "applied" });
  });

  it("once the window has passed, the moves in it no longer count", async () => {
    const actor = await newAdmin();
    const userId = await fundedUser(db, credits, 0);
    const move = (amount: number) =>
      brief.adjust({ actorId: actor, userId, amount, reason: "support", idempotencyKey: randomUUID() });
    expect(await move(80)).toMatchObject({ status: "applied" });
    expect(await move(80)).toMatchObject({ status: "pending" });
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    expect(await move(80)).toMatchObject({ status: "applied", balance: 160 });
  });

  it("concurrent small adjustments to one user: exactly the threshold's worth applied, the rest requests", async () => {
    const actor = await newAdmin();
    const userId = await fundedUser(db, credits, 0);
    const results = await Promise.all(Array.from({ length: 10 }, () => adjust(actor, userId, 20)));
    expect(results.filter((result) => result.status === "applied")).toHaveLength(5);
    expect(results.filter((result) => result.status === "pending")).toHaveLength(5);
    expect(await credits.balance(userId)).toBe(100);
  });
});
