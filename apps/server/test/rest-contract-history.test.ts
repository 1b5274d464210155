// The REST contract (/api/v1) through real HTTP: every endpoint's success status and shape, and
// every error status clients are promised, with the rule that a refused request writes nothing.
// Here: a user's history (GET /me/credits) and the admin API keys.
import { randomUUID } from "node:crypto";
import { apiKeys } from "@credits/db/schema";
import { beforeAll, describe, expect, it } from "vitest";
import { adminCookie, call, db, fullKey, ISO, provisionAdminKeys, signUp, UUID } from "./rest-contract-helpers.ts";

provisionAdminKeys();

describe("GET /me/credits", () => {
  let user: { id: string; cookie: string };
  // Oldest first, as the ledger wrote them.
  // biome-ignore lint/suspicious/noExplicitAny: transactions as the API returned them
  let all: any[];

  beforeAll(async () => {
    user = await signUp("history");
    const steps: [string, number][] = [
      ["grant", 100],
      ["spend", 10],
      ["grant", 5],
      ["spend", 20],
      ["spend", 1],
      ["grant", 7],
      ["spend", 3],
    ];
    for (const [kind, amount] of steps) {
      const reply = await call("POST", `/api/v1/credits/${kind}`, {
        key: fullKey,
        body: { userId: user.id, amount, idempotencyKey: randomUUID(), reason: `${kind} ${amount}` },
      });
      expect(reply.status).toBe(200);
      // Distinct timestamps, so from/to bounds fall between rows.
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    const reply = await call("GET", "/api/v1/me/credits?limit=100&order=asc", { cookie: user.cookie });
    expect(reply.status).toBe(200);
    all = reply.body.transactions;
    expect(all.map((t) => [t.kind, t.amount, t.balanceAfter])).toEqual([
      ["grant", 100, 100],
      ["spend", -10, 90],
      ["grant", 5, 95],
      ["spend", -20, 75],
      ["spend", -1, 74],
      ["grant", 7, 81],
      ["spend", -3, 78],
    ]);
  });

  it("answers {balance, transactions, nextCursor}, newest first by default", async () => {
    const reply = await call("GET", "/api/v1/me/credits", { cookie: user.cookie });
    expect(reply.status).toBe(200);
    // Three promotional grants (API grants), spent oldest first: 100 - 10 - 20 - 1 - 3 = 66 left of the first.
    const grants = [66, 5, 7].map((remaining) => expect.objectContaining({ category: "promotional", remaining }));
    expect(reply.body).toEqual({
      balance: 78,
      grants,
      nextExpiry: null,
      transactions: [...all].reverse(),
      nextCursor: null,
    });
    expect(all[0]).toEqual({
      id: expect.stringMatching(UUID),
      kind: "grant",
      amount: 100,
      balanceAfter: 100,
      reason: "grant 100",
      paymentId: null,
      holdId: null,
      createdAt: expect.stringMatching(ISO),
      allocations: [{ grantId: reply.body.grants[0]?.id, amount: 100, category: "promotional", source: "api" }],
    });
  });

  for (const order of ["desc", "asc"] as const) {
    it(`pages with limit and cursor (order=${order})`, async () => {
      const seen = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query = new URLSearchParams({ limit: "3", order, ...(cursor ? { cursor } : {}) });
        const reply = await call("GET", `/api/v1/me/credits?${query}`, { cookie: user.cookie });
        expect(reply.status).toBe(200);
        expect(reply.body.balance).toBe(78);
        expect(reply.body.transactions.length).toBeLessThanOrEqual(3);
        seen.push(...reply.body.transactions);
        cursor = reply.body.nextCursor;
        pages += 1;
      } while (cursor !== null && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual(order === "asc" ? all : [...all].reverse());
    });
  }

  it("filters by kind (one or several)", async () => {
    const spends = await call("GET", "/api/v1/me/credits?kind=spend&order=asc", { cookie: user.cookie });
    expect(spends.status).toBe(200);
    expect(spends.body.transactions).toEqual(all.filter((t) => t.kind === "spend"));
    const both = await call("GET", "/api/v1/me/credits?kind=spend&kind=grant&order=asc", { cookie: user.cookie });
    expect(both.body.transactions).toEqual(all);
    const holdsOnly = await call("GET", "/api/v1/me/credits?kind=hold", { cookie: user.cookie });
    expect(holdsOnly.body).toMatchObject({ balance: 78, transactions: [], nextCursor: null });
    const badKind = await call("GET", "/api/v1/me/credits?kind=gift", { cookie: user.cookie });
    expect(badKind.status).toBe(400);
    expect(badKind.body.error.code).toBe("INVALID_INPUT");
  });

  it("bounds by from (inclusive) and to (exclusive)", async () => {
    const from = all[2].createdAt;
    const to = all[5].createdAt;
    const query = new URLSearchParams({ from, to, order: "asc" });
    const reply = await call("GET", `/api/v1/me/credits?${query}`, { cookie: user.cookie });
    expect(reply.status).toBe(200);
    expect(reply.body.transactions).toEqual(all.slice(2, 5));
    const reversed = await call("GET", `/api/v1/me/credits?${new URLSearchParams({ from: to, to: from })}`, {
      cookie: user.cookie,
    });
    expect(reversed.status).toBe(400);
    expect(reversed.body).toEqual({ error: { code: "INVALID_INPUT", message: "from must not be after to" } });
  });

  it("refuses a bad cursor, a bad limit and an unknown parameter with 400", async () => {
    for (const query of [
      "cursor=bm9wZQ",
      "limit=0",
      "limit=101",
      "limit=0x2",
      "limit=1e1",
      "limit=2.5",
      "order=sideways",
      "userId=x",
    ]) {
      const reply = await call("GET", `/api/v1/me/credits?${query}`, { cookie: user.cookie });
      expect(reply.status, query).toBe(400);
      expect(reply.body.error.code, query).toBe("INVALID_INPUT");
    }
  });
});

describe("admin API keys", () => {
  it("creates (key shown once), lists (never the key) and revokes; a revoked key is a 401", async () => {
    const created = await call("POST", "/api/v1/admin/api-keys", {
      cookie: adminCookie,
      body: { name: "billing worker", scopes: ["credits:spend"] },
    });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({
      id: expect.stringMatching(UUID),
      name: "billing worker",
      prefix: expect.stringMatching(/^ck_[a-z2-7]{8}$/),
      scopes: ["credits:spend"],
      key: expect.stringMatching(/^ck_[a-z2-7]{39}$/),
    });
    expect(created.body.key.startsWith(created.body.prefix)).toBe(true);

    const list = await call("GET", "/api/v1/admin/api-keys", { cookie: adminCookie });
    expect(list.status).toBe(200);
    const listed = list.body.apiKeys.find((k: { id: string }) => k.id === created.body.id);
    expect(listed).toEqual({
      id: created.body.id,
      name: "billing worker",
      prefix: created.body.prefix,
      scopes: ["credits:spend"],
      owner: { id: expect.stringMatching(UUID), email: expect.any(String) },
      limits: { grantCreditsPerDay: null, grantCallsPerDay: null, spendCreditsPerDay: null, spendCallsPerDay: null },
      createdAt: expect.stringMatching(ISO),
      lastUsedAt: null,
      revokedAt: null,
    });
    expect(JSON.stringify(list.body)).not.toContain(created.body.key);
    expect(list.body.apiKeys).toHaveLength(await db.$count(apiKeys));

    const revoked = await call("POST", `/api/v1/admin/api-keys/${created.body.id}/revoke`, { cookie: adminCookie });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ id: created.body.id, revokedAt: expect.stringMatching(ISO) });

    const use = await call("POST", "/api/v1/credits/spend", {
      key: created.body.key,
      body: { userId: randomUUID(), amount: 1, idempotencyKey: randomUUID() },
    });
    expect(use.status).toBe(401);
    expect(use.body).toEqual({ error: { code: "UNAUTHENTICATED", message: "invalid or revoked API key" } });

    const unknown = await call("POST", `/api/v1/admin/api-keys/${randomUUID()}/revoke`, { cookie: adminCookie });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("NOT_FOUND");
  });

  it("refuses unknown scopes and fields with 400 and creates nothing", async () => {
    const before = await db.$count(apiKeys);
    for (const body of [
      { name: "x", scopes: ["credits:everything"] },
      { name: "x", scopes: ["credits:read"], ownerUserId: randomUUID() },
      { name: "x", scopes: [] },
    ]) {
      const reply = await call("POST", "/api/v1/admin/api-keys", { cookie: adminCookie, body });
      expect(reply.status).toBe(400);
      expect(reply.body.error.code).toBe("INVALID_INPUT");
    }
    expect(await db.$count(apiKeys)).toBe(before);
  });
});
