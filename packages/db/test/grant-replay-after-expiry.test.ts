// A credit with an expiry, retried with its idempotency key after that expiry has passed (a client
// that retried late, a queue drained the next day): the retry answers what the key already did,
// applied or filed, and the past expiry is refused only for a request the key has not made.
import { randomUUID } from "node:crypto";
import {
  type ApiKeyPrincipal,
  createAdminService,
  createKeyCreditsService,
  InvalidInputError,
  NO_LIMITS,
} from "@credits/core";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createAdminStore } from "../src/admin-store.ts";
import { createKeyCreditsStore } from "../src/auth-stores.ts";
import { apiKeys, users } from "../src/schema.ts";
import { createUser, expectInvariantHolds } from "./fixtures.ts";
import { testDb } from "./setup.ts";

const { db } = testDb;
let nowMs = Date.parse("2026-06-01T12:00:00Z");
const clock = { now: () => new Date(nowMs) };
const approval = { approvalThreshold: 1_000, approvalTtlMs: 30 * 86_400_000, approvalWindowMs: 86_400_000 };
const admin = createAdminService({ store: createAdminStore(db), clock, ...approval });
const keyCredits = createKeyCreditsService({ store: createKeyCreditsStore(db), clock, ...approval });

const HOUR = 3_600_000;
const expiresAt = () => new Date(nowMs + HOUR).toISOString();

async function newAdmin(): Promise<string> {
  const id = await createUser(db);
  await db.update(users).set({ role: "admin" }).where(eq(users.id, id));
  return id;
}

async function newKey(ownerUserId: string): Promise<ApiKeyPrincipal> {
  const id = randomUUID();
  await db
    .insert(apiKeys)
    .values({ id, name: "late", prefix: "ck_test", keyHash: id, scopes: ["credits:grant"], ownerUserId });
  return { id, name: "late", scopes: ["credits:grant"], ownerUserId, limits: NO_LIMITS };
}

describe("a grant retried after its expiresAt", () => {
  it("an admin adjustment: applied, then replayed past its expiry; a new key is refused", async () => {
    const [actorId, userId] = [await newAdmin(), await createUser(db)];
    const input = {
      actorId,
      userId,
      amount: 50,
      reason: "trial",
      idempotencyKey: randomUUID(),
      terms: { expiresAt: expiresAt() },
    };
    const applied = await admin.adjust(input);
    expect(applied.status).toBe("applied");
    nowMs += 2 * HOUR;
    expect(await admin.adjust(input)).toEqual(applied);
    await expect(admin.adjust({ ...input, idempotencyKey: randomUUID() })).rejects.toThrow(InvalidInputError);
    await expectInvariantHolds(db);
  });

  it("an admin adjustment filed for approval: the same pending request past its expiry", async () => {
    const [actorId, userId] = [await newAdmin(), await createUser(db)];
    const input = {
      actorId,
      userId,
      amount: 5_000,
      reason: "deal",
      idempotencyKey: randomUUID(),
      terms: { expiresAt: expiresAt() },
    };
    const filed = await admin.adjust(input);
    expect(filed.status).toBe("pending");
    nowMs += 2 * HOUR;
    expect(await admin.adjust(input)).toEqual(filed);
    await expect(admin.adjust({ ...input, idempotencyKey: randomUUID() })).rejects.toThrow(InvalidInputError);
  });

  it("an API key grant, applied and filed: each replayed past its expiry; a new key is refused", async () => {
    const [owner, userId] = [await newAdmin(), await createUser(db)];
    const key = await newKey(owner);
    const small = { userId, amount: 40, idempotencyKey: randomUUID(), terms: { expiresAt: expiresAt() } };
    const large = { ...small, amount: 4_000, idempotencyKey: randomUUID() };
    const applied = await keyCredits.grant(key, small);
    const filed = await keyCredits.grant(key, large);
    expect([applied.status, filed.status]).toEqual(["applied", "pending"]);
    nowMs += 2 * HOUR;
    expect(await keyCredits.grant(key, small)).toEqual(applied);
    expect(await keyCredits.grant(key, large)).toEqual(filed);
    await expect(keyCredits.grant(key, { ...small, idempotencyKey: randomUUID() })).rejects.toThrow(InvalidInputError);
    await expect(keyCredits.grant(key, { ...large, idempotencyKey: randomUUID() })).rejects.toThrow(InvalidInputError);
    await expectInvariantHolds(db);
  });
});
