// API keys as a hostile or careless admin would use them, through the real server: a key answers
// to the admin who made it, its grants follow that admin's approval rule (its window included), and
// every grant, key creation and revocation leaves an audit row.
import { randomUUID } from "node:crypto";
import { hashApiKey } from "@credits/core";
import { adjustmentRequests, adminActions, apiKeys, creditTransactions, users } from "@credits/db/schema";
import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { startTestServer } from "./harness.ts";
import { client, db } from "./hostile-keys-helpers.ts";

const server = await startTestServer({ ADMIN_APPROVAL_THRESHOLD: "10000" });
const { send, person, createKey, grant, balance } = client(server);

let alice: Awaited<ReturnType<typeof person>>;
let bob: Awaited<ReturnType<typeof person>>;
let carol: Awaited<ReturnType<typeof person>>;

beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([person("admin"), person("admin"), person("admin")]);
});

const auditOf = (apiKeyId: string) => db.select().from(adminActions).where(eq(adminActions.apiKeyId, apiKeyId));

describe("the self-grant finding", () => {
  it("an admin with a pending self-adjustment cannot grant themself through a key", async () => {
    const adjust = await send("POST", "/api/v1/admin/adjust", alice, {
      userId: alice.id,
      amount: 20_000,
      reason: "self",
      idempotencyKey: randomUUID(),
    });
    expect(adjust.body.status).toBe("pending");
    const { id, key } = await createKey(alice, ["credits:grant"]);

    const big = await grant(key, alice.id, 1_000_000_000);
    expect(big.status).toBe(200);
    expect(big.body).toEqual({
      status: "pending",
      adjustmentRequestId: expect.any(String),
      expiresAt: expect.any(String),
    });
    // Below the threshold too: a key never pays its own owner without a second admin.
    const small = await grant(key, alice.id, 5);
    expect(small.body.status).toBe("pending");
    expect(await balance(alice.id)).toBe(0);

    const [request] = await db
      .select()
      .from(adjustmentRequests)
      .where(eq(adjustmentRequests.id, big.body.adjustmentRequestId));
    expect(request).toMatchObject({ requestedBy: alice.id, targetUserId: alice.id, amount: 1_000_000_000 });
    const filed = (await auditOf(id)).filter((row) => row.action === "adjustment_requested");
    expect(filed).toHaveLength(2);
    expect(filed[0]).toMatchObject({ actorId: alice.id, targetUserId: alice.id, apiKeyId: id });

    // The owner cannot approve it, and another admin can.
    const path = `/api/v1/admin/adjustments/${small.body.adjustmentRequestId}/approve`;
    expect((await send("POST", path, alice)).status).toBe(403);
    expect((await send("POST", path, bob)).status).toBe(200);
    expect(await balance(alice.id)).toBe(5);
  });

  it("a grant to someone else applies below the threshold, with its audit row in the ledger row's transaction", async () => {
    const customer = await person();
    const { id, key } = await createKey(alice, ["credits:grant"]);
    const idempotencyKey = randomUUID();
    const first = await grant(key, customer.id, 300, idempotencyKey);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ transactionId: expect.any(String), balance: 300 });
    const again = await grant(key, customer.id, 300, idempotencyKey);
    expect(again.body).toEqual(first.body);

    const granted = (await auditOf(id)).filter((row) => row.action === "api_key.grant");
    expect(granted).toHaveLength(1);
    expect(granted[0]).toMatchObject({
      actorId: alice.id,
      targetUserId: customer.id,
      amount: 300,
      balanceBefore: 0,
      balanceAfter: 300,
    });
    const [row] = await db.select().from(creditTransactions).where(eq(creditTransactions.id, first.body.transactionId));
    expect(row).toMatchObject({ kind: "grant", amount: 300, adminActionId: granted[0]?.id });

    const large = await grant(key, customer.id, 10_001);
    expect(large.body.status).toBe("pending");
    expect(await balance(customer.id)).toBe(300);
  });
});

describe("accountable keys", () => {
  it("creation and revocation are audited with the admin, the name, scopes and prefix, never the key", async () => {
    const { id, key, prefix } = await createKey(alice, ["credits:read", "credits:spend"]);
    const revoke = `/api/v1/admin/api-keys/${id}/revoke`;
    expect((await send("POST", revoke, bob)).status).toBe(200);
    expect((await send("POST", revoke, bob)).status).toBe(200);
    const rows = await auditOf(id);
    expect(rows.map((r) => [r.action, r.actorId])).toEqual(
      expect.arrayContaining([
        ["api_key.created", alice.id],
        ["api_key.revoked", bob.id],
      ]),
    );
    expect(rows).toHaveLength(2);
    expect(rows[0]?.detail).toMatchObject({ scopes: ["credits:read", "credits:spend"], prefix, via: "api" });
    expect(JSON.stringify(rows)).not.toContain(key);
    expect(JSON.stringify(rows)).not.toContain(hashApiKey(key));

    const listed = await send("GET", "/api/v1/admin/api-keys", carol);
    expect(listed.body.apiKeys.find((k: { id: string }) => k.id === id).owner).toEqual({
      id: alice.id,
      email: alice.email,
    });
  });

  it("a key stops working when its owner is erased", async () => {
    const owner = await person("admin");
    const customer = await person();
    const { key } = await createKey(owner, ["credits:read"]);
    expect((await send("GET", `/api/v1/users/${customer.id}/credits`, { key })).status).toBe(200);
    const erased = await send("POST", `/api/v1/admin/users/${owner.id}/erase`, bob, { reason: "leaver" });
    expect(erased.status).toBe(200);
    const refused = await send("GET", `/api/v1/users/${customer.id}/credits`, { key });
    expect(refused.status).toBe(401);
    // Erasure revokes the owner's keys; a key that escaped that (an erasure made by hand in the
    // database) is refused all the same, for its owner.
    expect(refused.body.error.code).toBe("UNAUTHENTICATED");
    const other = await person("admin");
    const escaped = await createKey(other, ["credits:read"]);
    await db.update(users).set({ erasedAt: new Date(), email: null }).where(eq(users.id, other.id));
    server.services.apiKeys.forgetOwner(other.id);
    const byHand = await send("GET", `/api/v1/users/${customer.id}/credits`, { key: escaped.key });
    expect(byHand.status).toBe(401);
    expect(byHand.body.error.message).toMatch(/owner was erased/);
  });

  it("a key stops working within the key cache's 5 s when its owner stops being an admin", async () => {
    const owner = await person("admin");
    const customer = await person();
    const { key } = await createKey(owner, ["credits:read"]);
    const read = () => send("GET", `/api/v1/users/${customer.id}/credits`, { key });
    expect((await read()).status).toBe(200);
    await db.update(users).set({ role: "user" }).where(eq(users.id, owner.id));
    const demotedAt = Date.now();
    let reply = await read();
    while (reply.status === 200 && Date.now() - demotedAt < 6_000) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      reply = await read();
    }
    expect(reply.status).toBe(401);
    expect(reply.body.error.message).toMatch(/no longer an admin/);
  });

  it("a key made before keys had owners is refused with a clear 401", async () => {
    const key = `ck_${"b".repeat(39)}`;
    await db.insert(apiKeys).values({
      name: "legacy",
      prefix: key.slice(0, 11),
      keyHash: hashApiKey(key),
      scopes: ["credits:read", "credits:grant"],
    });
    const reply = await grant(key, alice.id, 1);
    expect(reply.status).toBe(401);
    expect(reply.body.error.message).toMatch(/no accountable owner/);
  });

  it("a plain user cannot make a key", async () => {
    const user = await person();
    const reply = await send("POST", "/api/v1/admin/api-keys", user, { name: "mine", scopes: ["credits:grant"] });
    expect(reply.status).toBe(403);
  });
});

describe("the split-grant finding", () => {
  it("small grants through an admin's keys add up in the user's window with adjustments: past it, requests", async () => {
    const friend = await person();
    const keys = [await createKey(alice, ["credits:grant"]), await createKey(alice, ["credits:grant"])];
    const replies = await Promise.all(
      Array.from({ length: 6 }, (_, i) => grant(keys[i % 2]?.key ?? "", friend.id, 2_000)),
    );
    expect(replies.map((reply) => reply.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(replies.filter((reply) => reply.body.status === "pending")).toHaveLength(1);
    expect(await balance(friend.id)).toBe(10_000);
    // Another admin's adjustment counts the grants too: the window is full.
    const adjust = await send("POST", "/api/v1/admin/adjust", bob, {
      userId: friend.id,
      amount: 1,
      reason: "support",
      idempotencyKey: randomUUID(),
    });
    expect(adjust.body.status).toBe("pending");
    expect(await balance(friend.id)).toBe(10_000);
  });
});

describe("approvals", () => {
  it("the approver is neither the requester nor the beneficiary", async () => {
    const requested = await send("POST", "/api/v1/admin/adjust", bob, {
      userId: alice.id,
      amount: 50_000,
      reason: "bonus",
      idempotencyKey: randomUUID(),
    });
    const id = requested.body.adjustmentRequest.id;
    const before = await balance(alice.id);
    const byBeneficiary = await send("POST", `/api/v1/admin/adjustments/${id}/approve`, alice);
    expect(byBeneficiary.status).toBe(403);
    expect(byBeneficiary.body.error.message).toMatch(/beneficiary/);
    expect(await balance(alice.id)).toBe(before);
    expect((await send("POST", `/api/v1/admin/adjustments/${id}/approve`, carol)).status).toBe(200);
    expect(await balance(alice.id)).toBe(before + 50_000);
  });

  it("the database refuses a decision by the beneficiary too", async () => {
    const [request] = await db
      .insert(adjustmentRequests)
      .values({
        requestedBy: bob.id,
        targetUserId: carol.id,
        amount: 20_000,
        reason: "direct",
        idempotencyKey: `test:${randomUUID()}`,
        expiresAt: new Date(Date.now() + 3_600_000),
      })
      .returning();
    await expect(
      db
        .update(adjustmentRequests)
        .set({ status: "approved", decidedBy: carol.id, decidedAt: new Date() })
        .where(and(eq(adjustmentRequests.id, request?.id ?? "")))
        .returning(),
    ).rejects.toThrow();
  });
});
