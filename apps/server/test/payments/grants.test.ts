// Grants through real HTTP on both drivers: a purchase creates a paid grant (expiring when its pack
// says so), promotional credits are used before paid ones, an expired grant is not spendable, and a
// refund claws back from its own payment's grant first.
import { randomUUID } from "node:crypto";
import { creditPackages } from "@credits/db/schema";
import { eq } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  adminWithKey,
  call,
  db,
  deliver,
  failOnLoggedError,
  pack,
  purchaseEvents,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer(stripeEnv);
failOnLoggedError();

let key: string;
beforeAll(async () => {
  ({ key } = await adminWithKey(server, ["credits:read", "credits:spend", "credits:grant"]));
});

interface Grant {
  id: string;
  category: string;
  priority: number;
  remaining: number;
  expiresAt: string | null;
  createdAt: string;
}

async function creditsOf(userId: string) {
  const reply = await call(server.url, "GET", `/api/v1/users/${userId}/credits`, { key });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body as {
    balance: number;
    grants: Grant[];
    nextExpiry: { amount: number; at: string } | null;
    transactions: {
      kind: string;
      amount: number;
      allocations: { grantId: string; amount: number; category: string; source: string }[];
    }[];
  };
}

async function buy(slug: "starter" | "standard" | "pro", userId?: string) {
  const purchase = await startPurchase(server, slug, userId);
  const events = purchaseEvents(mock, purchase);
  expect((await deliver(server.url, events.completed())).status).toBe(200);
  return { purchase, events };
}

async function grant(userId: string, amount: number, terms: Record<string, unknown>) {
  const reply = await call(server.url, "POST", "/api/v1/credits/grant", {
    key,
    body: { userId, amount, idempotencyKey: randomUUID(), reason: "Trial credits", ...terms },
  });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body as { transactionId: string; balance: number };
}

async function spend(userId: string, amount: number) {
  return call(server.url, "POST", "/api/v1/credits/spend", {
    key,
    body: { userId, amount, idempotencyKey: randomUUID() },
  });
}

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

describe("purchase -> paid grant", () => {
  afterEach(() => db.update(creditPackages).set({ creditExpiryDays: null }));

  it("a purchase creates one paid, non-expiring grant at priority 50, and its ledger row says so", async () => {
    const { purchase } = await buy("standard");
    const credits = await creditsOf(purchase.userId);
    expect(credits.grants).toEqual([
      {
        id: expect.any(String),
        category: "paid",
        priority: 50,
        remaining: purchase.credits,
        expiresAt: null,
        createdAt: expect.any(String),
      },
    ]);
    expect(credits.nextExpiry).toBeNull();
    const [row] = credits.transactions;
    expect(row).toMatchObject({ kind: "purchase", amount: purchase.credits });
    expect(row?.allocations).toEqual([
      { grantId: credits.grants[0]?.id, amount: purchase.credits, category: "paid", source: "payment" },
    ]);
  });

  it("a pack with creditExpiryDays: the paid grant expires that many days after the payment", async () => {
    const starter = await pack("starter");
    await db.update(creditPackages).set({ creditExpiryDays: 30 }).where(eq(creditPackages.id, starter.id));
    const listed = await call(server.url, "GET", "/api/v1/packages");
    expect(listed.body.packages).toContainEqual(expect.objectContaining({ id: starter.id, creditExpiryDays: 30 }));
    const before = Date.now();
    const { purchase } = await buy("starter");
    const after = Date.now();
    const { grants, nextExpiry } = await creditsOf(purchase.userId);
    expect(grants).toHaveLength(1);
    const expiresAt = new Date(grants[0]?.expiresAt ?? 0).getTime();
    expect(expiresAt).toBeGreaterThanOrEqual(before + 30 * 86_400_000);
    expect(expiresAt).toBeLessThanOrEqual(after + 30 * 86_400_000);
    expect(nextExpiry).toEqual({ amount: purchase.credits, at: grants[0]?.expiresAt });
  });
});

describe("spending order", () => {
  it("promotional credits (expiring, or at a lower priority) are used before paid ones", async () => {
    const { purchase } = await buy("starter");
    await grant(purchase.userId, 10, { category: "promotional", expiresAt: inDays(14) });
    await grant(purchase.userId, 3, { category: "promotional", priority: 10 });
    const { grants } = await creditsOf(purchase.userId);
    expect(grants.map((g) => [g.category, g.priority, g.remaining])).toEqual([
      ["promotional", 10, 3],
      ["promotional", 50, 10],
      ["paid", 50, purchase.credits],
    ]);
    const spent = await spend(purchase.userId, 15);
    expect(spent.status).toBe(200);
    const after = await creditsOf(purchase.userId);
    const [priority10, trial, paid] = grants.map((g) => g.id);
    expect(after.transactions[0]?.allocations).toEqual([
      { grantId: priority10, amount: -3, category: "promotional", source: "api" },
      { grantId: trial, amount: -10, category: "promotional", source: "api" },
      { grantId: paid, amount: -2, category: "paid", source: "payment" },
    ]);
    expect(after.grants.map((g) => [g.id, g.remaining])).toEqual([[paid, purchase.credits - 2]]);
  });

  it("an expired grant is not spendable nor in the balance, from its expiry on", async () => {
    const { purchase } = await buy("starter");
    await grant(purchase.userId, 7, { category: "promotional", expiresAt: new Date(Date.now() + 1_500).toISOString() });
    const live = await creditsOf(purchase.userId);
    expect(live.balance).toBe(purchase.credits + 7);
    expect(live.nextExpiry).toEqual({ amount: 7, at: expect.any(String) });
    await new Promise((resolve) => setTimeout(resolve, 1_700));
    const expired = await creditsOf(purchase.userId);
    expect(expired.balance).toBe(purchase.credits);
    expect(expired.grants.map((g) => g.category)).toEqual(["paid"]);
    expect(expired.nextExpiry).toBeNull();
    expect((await spend(purchase.userId, purchase.credits + 1)).status).toBe(402);
    const spent = await spend(purchase.userId, purchase.credits);
    expect(spent.status).toBe(200);
    expect(spent.body.balance).toBe(0);
  });
});

describe("refunds", () => {
  it("a refund claws back from its own payment's grant first, then in spending order", async () => {
    const first = await buy("starter");
    const userId = first.purchase.userId;
    const second = await buy("starter", userId);
    await grant(userId, 5, { category: "promotional", expiresAt: inDays(14) });
    const { grants } = await creditsOf(userId);
    const [trial, firstPaid, secondPaid] = grants.map((g) => g.id);
    // The oldest paid grant comes first in spending order; the refund is of the second payment.
    expect((await deliver(server.url, second.events.refunded(second.purchase.amountMinor))).status).toBe(200);
    const after = await creditsOf(userId);
    const clawback = after.transactions.find((t) => t.kind === "refund_clawback");
    expect(clawback?.allocations).toEqual([
      { grantId: secondPaid, amount: -second.purchase.credits, category: "paid", source: "payment" },
    ]);
    expect(after.grants.map((g) => [g.id, g.remaining])).toEqual([
      [trial, 5],
      [firstPaid, first.purchase.credits],
    ]);
  });
});
