// Hostile callers against the money rules, through the real server: each finding of issue 12
// reproduced as it was reported, and refused. Idempotency keys belong to their caller, a retried
// request from before keys were scoped is still answered once, a 402 tells no balance, a double
// submitted checkout makes one payment and one Stripe session, Stripe calls are rate limited per
// user, and a refund racing captures keeps every credit accounted for.
import { randomUUID } from "node:crypto";
import { clientKey } from "@credits/core";
import { createLedgerStore } from "@credits/db";
import { adjustmentRequests, payments } from "@credits/db/schema";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  adminWithKey,
  balanceOf,
  call,
  db,
  deliver,
  failOnLoggedError,
  insertUser,
  pack,
  paymentRow,
  pooled,
  purchaseEvents,
  query,
  sessionEvent,
  sessionIdOf,
  signUp,
  startPurchase,
  startStripeMock,
  startTestServer,
  stripeEnv,
} from "./helpers.ts";

const { mock } = startStripeMock();
const server = await startTestServer({ ...stripeEnv, CHECKOUT_RATE_LIMIT_PER_MINUTE: "6" });
failOnLoggedError();
const tool = await adminWithKey(server, ["credits:spend", "credits:grant", "credits:read"]);
const spendOnly = await adminWithKey(server, ["credits:spend"]);

const fund = (userId: string, amount: number) =>
  server.services.credits.grant({ scope: { kind: "user", id: "test" }, userId, amount, idempotencyKey: randomUUID() });
const spend = (auth: { key?: string; cookie?: string }, body: Record<string, unknown>) =>
  call(server.url, "POST", "/api/v1/credits/spend", { ...auth, body });

describe("idempotency keys belong to their caller", () => {
  it("a user spending under a tool's future job id does not block the tool's call", async () => {
    const user = await signUp(server.url, "squatter");
    await fund(user.id, 10);
    const jobId = `job-${randomUUID()}`;
    const squat = await spend({ cookie: user.cookie }, { amount: 1, idempotencyKey: jobId });
    expect(squat.status).toBe(200);
    const first = await spend({ key: tool.key }, { userId: user.id, amount: 3, idempotencyKey: jobId });
    expect(first.status).toBe(200);
    expect(first.body.transactionId).not.toBe(squat.body.transactionId);
    // The tool's retry is its own row again; another key's same id is another request.
    const retry = await spend({ key: tool.key }, { userId: user.id, amount: 3, idempotencyKey: jobId });
    expect(retry.body).toEqual(first.body);
    const other = await spend({ key: spendOnly.key }, { userId: user.id, amount: 2, idempotencyKey: jobId });
    expect(other.status).toBe(200);
    expect(await balanceOf(user.id)).toBe(10 - 1 - 3 - 2);
  });

  it("a grant made before keys were scoped, retried above the threshold, is never also a request", async () => {
    const userId = await insertUser("legacy-grant");
    const key = `legacy-grant-${randomUUID()}`;
    const legacy = await createLedgerStore(db).post({
      userId,
      amount: 20_000,
      kind: "grant",
      idempotencyKey: clientKey({ kind: "apiKey", id: "any" }, key).legacy,
    });
    const retry = await call(server.url, "POST", "/api/v1/credits/grant", {
      key: tool.key,
      body: { userId, amount: 20_000, idempotencyKey: key },
    });
    // ADR 023: a retry of an applied grant answers that grant, even above the threshold.
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ transactionId: legacy?.id, balance: 20_000 });
    expect(await db.$count(adjustmentRequests, eq(adjustmentRequests.targetUserId, userId))).toBe(0);
    expect(await balanceOf(userId)).toBe(20_000);
  });

  it("a key in another caller's scoped form is refused (its legacy form would be theirs)", async () => {
    const userId = await insertUser("scoped-form");
    await fund(userId, 5);
    const key = `k:${randomUUID()}:job-1`;
    const reply = await spend({ key: tool.key }, { userId, amount: 1, idempotencyKey: key });
    expect(reply.status).toBe(400);
    expect(await balanceOf(userId)).toBe(5);
  });

  it("a spend, hold or adjustment made before keys were scoped still answers its retry once", async () => {
    const userId = await insertUser("legacy");
    await fund(userId, 50);
    const key = `legacy-${randomUUID()}`;
    // As the ledger stored client keys before migration 0006: `c:<key>`, for everyone.
    const legacy = await createLedgerStore(db).post({
      userId,
      amount: -4,
      kind: "spend",
      idempotencyKey: clientKey({ kind: "apiKey", id: "any" }, key).legacy,
    });
    const retry = await spend({ key: tool.key }, { userId, amount: 4, idempotencyKey: key });
    expect(retry.body).toEqual({ transactionId: legacy?.id, balance: 46 });
    expect(await balanceOf(userId)).toBe(46);
    const changed = await spend({ key: tool.key }, { userId, amount: 5, idempotencyKey: key });
    expect(changed.status).toBe(409);

    const holdKey = `legacy-hold-${randomUUID()}`;
    const hold = await createLedgerStore(db).insertHold({
      id: randomUUID(),
      userId,
      amount: 6,
      idempotencyKey: `c:${holdKey}`,
      expiresAt: new Date(Date.now() + 60_000),
    });
    const holdRetry = await call(server.url, "POST", "/api/v1/credits/holds", {
      key: tool.key,
      body: { userId, amount: 6, idempotencyKey: holdKey },
    });
    expect(holdRetry.body.holdId).toBe(hold?.id);
    expect(await balanceOf(userId)).toBe(46);
  });
});

it("a 402 tells a key without credits:read nothing about the balance", async () => {
  const userId = await insertUser("secret-balance");
  await fund(userId, 7_777);
  const reply = await spend({ key: spendOnly.key }, { userId, amount: 8_000, idempotencyKey: randomUUID() });
  expect(reply.status).toBe(402);
  expect(reply.body).toEqual({
    error: { code: "INSUFFICIENT_CREDITS", message: "insufficient credits: requested 8000" },
  });
  expect(JSON.stringify(reply.body)).not.toContain("7777");
});

describe("checkout", () => {
  const sessionsMade = () => mock.requestsTo("POST", "/v1/checkout/sessions").length;

  it("a double submit (same key, at once) makes one payment and one Stripe session", async () => {
    const user = await signUp(server.url, "double");
    const starter = await pack("starter");
    const before = sessionsMade();
    const idempotencyKey = randomUUID();
    const replies = await Promise.all(
      [1, 2, 3].map(() =>
        call(server.url, "POST", "/api/v1/checkout", {
          cookie: user.cookie,
          body: { packageId: starter.id, idempotencyKey },
        }),
      ),
    );
    expect(replies.map((r) => r.status)).toEqual([201, 201, 201]);
    expect(new Set(replies.map((r) => JSON.stringify(r.body))).size).toBe(1);
    expect(await db.$count(payments, eq(payments.userId, user.id))).toBe(1);
    expect(sessionsMade() - before).toBe(1);
    const otherPack = await call(server.url, "POST", "/api/v1/checkout", {
      cookie: user.cookie,
      body: { packageId: (await pack("pro")).id, idempotencyKey },
    });
    expect(otherPack.status).toBe(409);
    expect(otherPack.body.error.code).toBe("IDEMPOTENCY_CONFLICT");
  });

  it("a key whose checkout expired unpaid answers 409, never its dead session", async () => {
    const user = await signUp(server.url, "expired");
    const body = { packageId: (await pack("starter")).id, idempotencyKey: randomUUID() };
    const first = await call(server.url, "POST", "/api/v1/checkout", { cookie: user.cookie, body });
    expect(first.status).toBe(201);
    const expired = sessionEvent(mock, sessionIdOf(first.body.checkoutUrl), "checkout.session.expired");
    expect((await deliver(server.url, expired)).status).toBe(200);
    const again = await call(server.url, "POST", "/api/v1/checkout", { cookie: user.cookie, body });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/expired: start a new one/);
  });

  it("checkout and confirm reach Stripe at most CHECKOUT_RATE_LIMIT_PER_MINUTE times a minute per user", async () => {
    const user = await signUp(server.url, "hammer");
    const starter = await pack("starter");
    const replies = [];
    for (let i = 0; i < 6; i++) {
      replies.push(
        await call(server.url, "POST", "/api/v1/checkout", { cookie: user.cookie, body: { packageId: starter.id } }),
      );
    }
    expect(replies.map((reply) => reply.status)).toEqual([201, 201, 201, 201, 201, 201]);
    const before = mock.requests.length;
    const refused = await call(server.url, "POST", "/api/v1/checkout/confirm", {
      cookie: user.cookie,
      body: { sessionId: "cs_test_anything" },
    });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(mock.requests.length).toBe(before);
    // The success page of a payment already credited is answered from our own row: no Stripe call,
    // so the limit does not stand in its way.
    const paidSession = sessionIdOf(replies[0]?.body.checkoutUrl);
    const completed = sessionEvent(mock, paidSession, "checkout.session.completed", {
      paymentIntent: "pi_test_hammer",
    });
    expect((await deliver(server.url, completed)).status).toBe(200);
    const success = await call(server.url, "POST", "/api/v1/checkout/confirm", {
      cookie: user.cookie,
      body: { sessionId: paidSession },
    });
    expect(success.status).toBe(200);
    expect(success.body.payment).toMatchObject({ status: "paid", credited: true });
    expect(mock.requests.length).toBe(before);
    // Another user is not held back by this one.
    const other = await signUp(server.url, "neighbour");
    const ok = await call(server.url, "POST", "/api/v1/checkout", {
      cookie: other.cookie,
      body: { packageId: starter.id },
    });
    expect(ok.status).toBe(201);
  });
});

it("a full refund racing captures and releases of the user's holds keeps every credit accounted for", async () => {
  const purchase = await startPurchase(server, "standard");
  const events = purchaseEvents(mock, purchase);
  expect((await deliver(server.url, events.completed())).status).toBe(200);
  const holdIds: string[] = [];
  for (let i = 0; i < 20; i++) {
    const reply = await call(server.url, "POST", "/api/v1/credits/holds", {
      key: tool.key,
      body: { userId: purchase.userId, amount: 20, idempotencyKey: randomUUID() },
    });
    holdIds.push(reply.body.holdId);
  }
  const settles = holdIds.map(
    (id, i) => () =>
      call(server.url, "POST", `/api/v1/credits/holds/${id}/${i % 2 ? "release" : "capture"}`, {
        key: tool.key,
        body: i % 2 ? {} : { amount: 5 },
      }),
  );
  const [refund, ...settled] = await Promise.all([
    deliver(server.url, events.refunded(purchase.amountMinor)),
    pooled(settles, 8),
  ]).then(([r, s]) => [r, ...s]);
  expect(refund?.status).toBe(200);
  // Each settle either ran before the clawback (200) or found its hold emptied by it (409 for a
  // capture; a release is answered as the release the clawback made).
  for (const reply of settled) expect([200, 409]).toContain(reply?.status);
  const payment = await paymentRow(purchase.paymentId);
  const [captured] = await query<{ total: string }>(
    `SELECT coalesce(sum(captured_amount), 0)::text AS total FROM holds WHERE user_id = '${purchase.userId}'`,
  );
  // Bought 500; what was captured is spent; the refund took all of the rest.
  expect((payment?.creditsRefunded ?? 0) + Number(captured?.total)).toBe(purchase.credits);
  expect(await balanceOf(purchase.userId)).toBe(0);
  const [open] = await query<{ n: number }>(
    `SELECT count(*)::int AS n FROM holds WHERE user_id = '${purchase.userId}' AND status = 'open'`,
  );
  expect(open?.n).toBe(0);
});
