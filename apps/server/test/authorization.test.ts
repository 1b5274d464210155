// The authorization matrix: every procedure of appRouter, called over real HTTP (its REST route
// and /trpc) by every kind of caller that must be refused, is refused with 401/403 and writes
// nothing. The table below names every procedure: a procedure added to the router without a row
// here, or a row whose procedure is gone, fails the first test.
import { randomUUID } from "node:crypto";
import type { Access } from "@credits/api";
import { type ApiKeyScope, apiKeyScopes, createAuthService } from "@credits/core";
import { createAccountStore, createSessionStore } from "@credits/db";
import { testDb } from "@credits/db/test-setup";
import { plantLedgerBreak } from "@credits/db/testing";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type CallerKind,
  type Credentials,
  callOver,
  checkoutFor,
  db,
  expectRefused,
  type Fixtures,
  forbidden,
  PASSWORD,
  paidPayment,
  procedures,
  type Row,
  refusalsFor,
  send,
  server,
  sessionCookie,
  signUp,
  snapshot,
  starterPack,
  transportsOf,
} from "./authorization-helpers.ts";

// Every procedure of appRouter, with who may call it. Keep in step with the router on purpose.
const table: Record<string, Row> = {
  "auth.signUp": { access: "public" },
  "auth.logIn": { access: "public" },
  "auth.logOut": { access: "public" },
  "auth.logOutEverywhere": { access: "user" },
  "auth.me": { access: "user" },
  "auth.sessions": { access: "user" },
  "credits.mine": { access: "user", input: () => ({}) },
  "credits.ofUser": {
    access: { scope: "credits:read", orAdmin: true },
    input: (fx) => ({ userId: fx.victim.id }),
  },
  "credits.myBalance": { access: "user" },
  "credits.balanceOfUser": {
    access: { scope: "credits:read", orAdmin: true },
    input: (fx) => ({ userId: fx.victim.id }),
  },
  "credits.spend": {
    access: { scope: "credits:spend", orUser: true },
    input: (fx) => ({ userId: fx.victim.id, amount: 1, idempotencyKey: randomUUID(), reason: "matrix" }),
  },
  "credits.grant": {
    access: { scope: "credits:grant" },
    input: (fx) => ({ userId: fx.victim.id, amount: 1, idempotencyKey: randomUUID(), reason: "matrix" }),
  },
  "credits.hold": {
    access: { scope: "credits:spend" },
    input: (fx) => ({ userId: fx.victim.id, amount: 1, idempotencyKey: randomUUID() }),
  },
  "credits.capture": {
    access: { scope: "credits:spend" },
    input: async (fx) => ({ holdId: await fx.newHold(), amount: 1 }),
  },
  "credits.release": { access: { scope: "credits:spend" }, input: async (fx) => ({ holdId: await fx.newHold() }) },
  "packages.list": { access: "public" },
  "setup.status": { access: "public" },
  "setup.createFirstAdmin": { access: "public" },
  "checkout.create": {
    access: "user",
    input: async () => ({ packageId: await starterPack() }),
  },
  "checkout.confirm": {
    access: "user",
    input: async (_fx, self) => ({ sessionId: self ? (await checkoutFor(self.id)).sessionId : "cs_local_matrix" }),
  },
  "checkout.payment": {
    access: "user",
    input: async (_fx, self) => ({ paymentId: self ? (await checkoutFor(self.id)).paymentId : randomUUID() }),
  },
  "checkout.receipt": {
    access: "user",
    input: async (_fx, self) => ({ paymentId: self ? await paidPayment(self.id) : randomUUID() }),
  },
  "checkout.cancel": {
    access: "user",
    input: async (_fx, self) => ({ paymentId: self ? (await checkoutFor(self.id)).paymentId : randomUUID() }),
  },
  "checkout.payments": { access: "user" },
  "admin.createApiKey": { access: "admin", input: () => ({ name: "matrix", scopes: ["credits:grant"] }) },
  "admin.listApiKeys": { access: "admin" },
  "admin.revokeApiKey": { access: "admin", input: async (fx) => ({ id: await fx.newKey() }) },
  "admin.adjust": {
    access: "admin",
    input: (fx) => ({ userId: fx.victim.id, amount: 5, reason: "matrix", idempotencyKey: randomUUID() }),
  },
  "admin.approvals": { access: "admin" },
  "admin.approve": { access: "admin", input: async (fx) => ({ id: await fx.newAdjustmentRequest() }) },
  "admin.reject": { access: "admin", input: async (fx) => ({ id: await fx.newAdjustmentRequest() }) },
  "admin.refundPayment": {
    access: "admin",
    input: async (fx) => ({
      paymentId: await fx.newPaidPayment(),
      amount: 1,
      reason: "matrix",
      idempotencyKey: randomUUID(),
    }),
  },
  "admin.refundApprovals": { access: "admin" },
  "admin.approveRefund": { access: "admin", input: async (fx) => ({ id: await fx.newRefundRequest() }) },
  "admin.rejectRefund": { access: "admin", input: async (fx) => ({ id: await fx.newRefundRequest() }) },
  "admin.audit": { access: "admin", input: () => ({}) },
  "admin.users": { access: "admin", input: () => ({ query: "matrix" }) },
  "admin.user": { access: "admin", input: (fx) => ({ userId: fx.victim.id }) },
  "admin.eraseUser": {
    access: "admin",
    input: async (fx) => ({ userId: await fx.newUser(), reason: "matrix erasure" }),
  },
  "reconciliation.runs": { access: "admin", input: () => ({}) },
  "reconciliation.run": { access: "admin", input: async (fx) => ({ id: await fx.newReconciliationRun() }) },
  "reconciliation.start": { access: "admin" },
  "reconciliation.breakRequests": { access: "admin" },
  "reconciliation.acknowledgeBreak": {
    access: "admin",
    input: async () => {
      const { userId, seq } = await plantLedgerBreak(testDb.db);
      return { userId, seq, reason: "matrix" };
    },
  },
  "alerts.get": { access: "user" },
  "alerts.set": { access: "user", input: () => ({ lowBalanceThreshold: 25 }) },
  "autoTopUp.get": { access: "user" },
  "autoTopUp.set": {
    access: "user",
    input: async () => ({ enabled: true, threshold: 50, packageId: await starterPack() }),
  },
  "autoTopUp.removeCard": { access: "user" },
  "gdpr.export": { access: "user" },
  "gdpr.confirmDeletion": { access: "user", input: () => ({ password: PASSWORD }) },
  "gdpr.delete": {
    access: "user",
    input: async (_fx, self) => {
      if (!self) return { confirmationToken: "0.invalid" };
      const reply = await send(
        "POST",
        "/api/v1/gdpr/delete/confirmation",
        { cookie: self.cookie },
        { password: PASSWORD },
      );
      return { confirmationToken: reply.body.confirmationToken };
    },
  },
  "admin.dailyStats": { access: "admin", input: () => ({ from: "2026-11-01", to: "2026-11-30" }) },
  "admin.packages": { access: "admin" },
  "admin.createPackage": {
    access: "admin",
    input: () => ({ name: "Matrix pack", credits: 10, prices: [{ currency: "usd", unitAmount: 100 }] }),
  },
  "admin.updatePackage": { access: "admin", input: async (fx) => ({ id: await fx.newPackage(), name: "Renamed" }) },
  "admin.archivePackage": { access: "admin", input: async (fx) => ({ id: await fx.newPackage() }) },
  "admin.approvePackage": { access: "admin", input: async (fx) => ({ id: await fx.newPackage() }) },
  "admin.createWebhookEndpoint": { access: "admin", input: () => webhookEndpointInput },
  "admin.listWebhookEndpoints": { access: "admin" },
  "admin.listWebhookDeliveries": { access: "admin", input: async () => ({ id: await newWebhookEndpoint() }) },
  "admin.replayWebhookDelivery": { access: "admin", input: async (fx) => ({ id: await newWebhookDelivery(fx) }) },
  "admin.rotateWebhookSecret": { access: "admin", input: async () => ({ id: await newWebhookEndpoint() }) },
  "admin.disableWebhookEndpoint": { access: "admin", input: async () => ({ id: await newWebhookEndpoint() }) },
  "admin.enableWebhookEndpoint": { access: "admin", input: async () => ({ id: await newWebhookEndpoint() }) },
  "admin.deleteWebhookEndpoint": { access: "admin", input: async () => ({ id: await newWebhookEndpoint() }) },
};

// --- fixtures ------------------------------------------------------------------------------------

// A public address literal: registration needs no DNS (this machine has no route to it).
const webhookEndpointInput = { url: "https://93.184.215.14/matrix", events: ["credits.expiring"] };

async function newWebhookEndpoint(events = webhookEndpointInput.events): Promise<string> {
  const reply = await send("POST", "/api/v1/admin/webhook-endpoints", callers["admin session"], {
    ...webhookEndpointInput,
    events,
  });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body.id;
}

// An endpoint subscribed to purchases, then a purchase: its delivery.
async function newWebhookDelivery(fx: Fixtures): Promise<string> {
  const endpointId = await newWebhookEndpoint(["credits.purchased"]);
  await fx.newPaidPayment();
  const reply = await send("GET", `/api/v1/admin/webhook-endpoints/${endpointId}/deliveries`, callers["admin session"]);
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body.deliveries[0].id;
}

const callers = {} as Record<Exclude<CallerKind, "API key lacking the scope">, Credentials>;
const keyWith = {} as Record<ApiKeyScope, string>;
const keyWithout = {} as Record<ApiKeyScope, string>;
let fixtures: Fixtures;

async function createKey(scopes: readonly ApiKeyScope[]): Promise<{ id: string; key: string }> {
  const reply = await send("POST", "/api/v1/admin/api-keys", callers["admin session"], {
    name: `matrix ${scopes.join(" ")}`,
    scopes,
  });
  expect(reply.status).toBe(200);
  return { id: reply.body.id, key: reply.body.key };
}

beforeAll(async () => {
  const auth = createAuthService({ accounts: createAccountStore(db), sessions: createSessionStore(db) });
  const adminEmail = `admin-${randomUUID()}@example.test`;
  await auth.createUser({ email: adminEmail, password: PASSWORD, role: "admin" });
  const login = await fetch(`${server.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: adminEmail, password: PASSWORD }),
  });
  expect(login.status).toBe(200);
  callers["admin session"] = { cookie: sessionCookie(login) };
  const otherAdmin = await auth.createUser({
    email: `admin-${randomUUID()}@example.test`,
    password: PASSWORD,
    role: "admin",
  });
  callers.anonymous = {};
  callers["plain user"] = { cookie: (await signUp()).cookie };
  callers["API key with every scope"] = { key: (await createKey(apiKeyScopes)).key };
  const revoked = await createKey(apiKeyScopes);
  expect((await send("POST", `/api/v1/admin/api-keys/${revoked.id}/revoke`, callers["admin session"])).status).toBe(
    200,
  );
  callers["revoked API key with every scope"] = { key: revoked.key };
  callers["malformed API key"] = { key: "ck_not-a-real-key" };
  for (const scope of apiKeyScopes) {
    keyWith[scope] = (await createKey([scope])).key;
    keyWithout[scope] = (await createKey(apiKeyScopes.filter((s) => s !== scope))).key;
  }

  const victim = await signUp();
  const funded = await send("POST", "/api/v1/credits/grant", callers["API key with every scope"], {
    userId: victim.id,
    // At most ADMIN_APPROVAL_THRESHOLD: a larger grant through a key only files a request.
    amount: 10_000,
    idempotencyKey: randomUUID(),
  });
  expect(funded.status).toBe(200);
  fixtures = {
    victim,
    async newHold() {
      const reply = await send("POST", "/api/v1/credits/holds", callers["API key with every scope"], {
        userId: victim.id,
        amount: 1,
        idempotencyKey: randomUUID(),
      });
      expect(reply.status).toBe(200);
      return reply.body.holdId;
    },
    newKey: async () => (await createKey(["credits:read"])).id,
    newPackage: async () => {
      const reply = await send("POST", "/api/v1/admin/packages", callers["admin session"], {
        name: "Matrix fixture",
        credits: 10,
        prices: [{ currency: "usd", unitAmount: 100 }],
      });
      expect(reply.status).toBe(200);
      return reply.body.id;
    },
    newUser: async () => (await signUp()).id,
    newReconciliationRun: async () => {
      const run = await server.services.reconciliation.run({ trigger: "manual" });
      if (!run) throw new Error("no run");
      return run.id;
    },
    newPaidPayment: () => paidPayment(victim.id),
    async newRefundRequest() {
      // Money back to its own requester: a request whatever the amount.
      const refund = await server.services.refunds.refund({
        actorId: otherAdmin.id,
        paymentId: await paidPayment(otherAdmin.id),
        amountMinor: 1,
        reason: "matrix approval",
        idempotencyKey: randomUUID(),
      });
      if (refund.status !== "pending") throw new Error("expected a pending refund");
      return refund.id;
    },
    async newAdjustmentRequest() {
      const result = await server.services.admin.adjust({
        actorId: otherAdmin.id,
        userId: victim.id,
        amount: 1_000_000,
        reason: "matrix approval",
        idempotencyKey: randomUUID(),
      });
      if (result.status !== "pending") throw new Error("expected a pending adjustment request");
      return result.adjustmentRequest.id;
    },
  };
});

function credentialsOf(caller: CallerKind, access: Access): Credentials {
  if (caller !== "API key lacking the scope") return callers[caller];
  if (typeof access !== "object") throw new Error("only scoped procedures have a scope to lack");
  return { key: keyWithout[access.scope] };
}

// --- tests ---------------------------------------------------------------------------------------

describe("the table", () => {
  it("names exactly the procedures of appRouter", () => {
    expect(Object.keys(procedures).sort()).toEqual(Object.keys(table).sort());
  });

  it.each(Object.entries(table))("%s: access in the table matches the procedure's meta", (path, row) => {
    expect(procedures[path]?.meta?.access).toEqual(row.access);
  });
});

const guarded = Object.entries(table).filter(([, row]) => row.access !== "public");

describe.each(guarded)("%s", (path, row) => {
  const cases = refusalsFor(row.access).flatMap((refusal) =>
    transportsOf(path).map(
      (transport) => [`${transport}: ${refusal.caller} → ${refusal.status}`, transport, refusal] as const,
    ),
  );

  it.each(cases)("%s, and no write", async (_, transport, refusal) => {
    const input = await row.input?.(fixtures);
    const before = await snapshot();
    const reply = await callOver(transport, path, input, credentialsOf(refusal.caller, row.access));
    expectRefused(transport, reply, refusal);
    expect(await snapshot()).toEqual(before);
  });

  // The same input from an allowed caller succeeds: the refusals above are about who, not what.
  it.each(transportsOf(path))("%s: an allowed caller succeeds with the same input", async (transport) => {
    const access = row.access;
    const self = access === "user" ? await signUp() : undefined;
    const allowed: Credentials[] = self
      ? [{ cookie: self.cookie }]
      : access === "admin"
        ? [callers["admin session"]]
        : typeof access === "object"
          ? [{ key: keyWith[access.scope] }, ...(access.orAdmin ? [callers["admin session"]] : [])]
          : [];
    expect(allowed.length).toBeGreaterThan(0);
    for (const credentials of allowed) {
      const input = await row.input?.(fixtures, self);
      const reply = await callOver(transport, path, input, credentials);
      const restStatus: Record<string, number> = { "auth.logOutEverywhere": 204, "checkout.create": 201 };
      const expected = transport === "REST" ? (restStatus[path] ?? 200) : 200;
      expect(reply.status, JSON.stringify(reply.body)).toBe(expected);
    }
  });
});

describe("a signed-in user on an orUser procedure", () => {
  it("acts only on their own account", async () => {
    const spender = await signUp();
    const grant = await send(
      "POST",
      "/api/v1/credits/grant",
      { key: keyWith["credits:grant"] },
      {
        userId: spender.id,
        amount: 5,
        idempotencyKey: randomUUID(),
      },
    );
    expect(grant.status).toBe(200);
    const before = await snapshot();
    for (const transport of ["REST", "tRPC"] as const) {
      const reply = await callOver(
        transport,
        "credits.spend",
        { userId: fixtures.victim.id, amount: 1, idempotencyKey: randomUUID() },
        { cookie: spender.cookie },
      );
      expectRefused(transport, reply, forbidden("plain user"));
    }
    expect(await snapshot()).toEqual(before);
    const own = await callOver("tRPC", "credits.spend", { amount: 1, idempotencyKey: randomUUID() }, spender);
    expect(own.status).toBe(200);
    expect(own.body.result.data).toEqual({ transactionId: expect.any(String), balance: 4 });
  });
});
