// Walks the published OpenAPI document of the real server: every operation, called by every kind of
// caller (anonymous, a user's session, an admin's session, an API key of each scope), with inputs
// generated from its schemas and then mutated (openapi-fuzz-inputs.ts). Whatever comes in: never a
// 5xx; every answer, error or success, has a status documented for its operation and a body valid
// against its documented schema (contract/check.ts). Seeded: SEED below reproduces a run exactly.
import { randomUUID } from "node:crypto";
import { testDb } from "@credits/db/test-setup";
import { plantLedgerBreak } from "@credits/db/testing";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type Answer, contractChecker } from "./contract/check.ts";
import { type Json, type Operation, operationsOf, type RequestCase, requestCases } from "./openapi-fuzz-inputs.ts";
import { call, insertUser, PASSWORD, signUp, startTestServer } from "./payments/helpers.ts";

const SEED = 20_261_204;
const CASES_PER_CALLER = 12;
// Operations that end the caller's session or account run with a throwaway caller, fewer times.
const DESTRUCTIVE = new Set(["auth-logOut", "auth-logOutEverywhere", "gdpr-delete"]);
const DESTRUCTIVE_CASES = 3;
// A public address literal: registering it needs no DNS (the machine has none).
const WEBHOOK_URL = "https://93.184.216.34/hooks";
// The walk must also reach success, or it proves little: every operation answers 2xx at least once,
// except erasing one's own account, which needs a token no generator can guess.
const NO_SUCCESS_EXPECTED = new Set(["gdpr-delete"]);

// Checkout's per-user limit on provider calls would otherwise answer every later create and
// confirm of the one user with 429 (in shape, but the walk would never see them succeed).
const server = await startTestServer({ CHECKOUT_RATE_LIMIT_PER_MINUTE: "10000" });
const doc: Json = await (await fetch(`${server.url}/api/v1/openapi.json`)).json();
const operations = operationsOf(doc);

type CallerKind = "anonymous" | "user" | "admin" | "key credits:read" | "key credits:spend" | "key credits:grant";
const CALLERS: CallerKind[] = [
  "anonymous",
  "user",
  "admin",
  "key credits:read",
  "key credits:spend",
  "key credits:grant",
];
interface Credentials {
  cookie?: string;
  key?: string;
}
const credentials = {} as Record<CallerKind, Credentials>;
const pools: Record<string, string[]> = {};
// Statuses answered, per operation: the walk's coverage.
const statuses = new Map<string, Map<number, number>>();
const poolsByOperation: Record<string, Record<string, string[]>> = {};

// --- response checks ------------------------------------------------------------------------------

// The contract checker (contract/check.ts): a documented status for the operation, required
// headers, the body valid against its documented schema, errors included.
const checker = contractChecker(doc);

// What is wrong with an answer, or null.
function problemOf(answer: Answer): string | null {
  if (answer.status >= 500) return `answered ${answer.status}`;
  if (answer.status < 200 || (answer.status >= 300 && answer.status < 400)) return `answered ${answer.status}`;
  return checker.problemOf(answer);
}

// --- requests -------------------------------------------------------------------------------------

async function throwawayCaller(kind: CallerKind): Promise<Credentials> {
  if (kind === "user") return { cookie: (await signUp(server.url, "fuzz-throwaway")).cookie };
  if (kind === "admin") return { cookie: await adminSession() };
  return credentials[kind];
}

async function send(op: Operation, who: Credentials, rc: RequestCase) {
  const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => rc.pathParams[name] ?? "");
  const headers: Record<string, string> = {};
  if (who.cookie) headers.cookie = who.cookie;
  if (who.key) headers.authorization = `Bearer ${who.key}`;
  if (rc.body !== undefined) headers["content-type"] = "application/json";
  const url = `${server.url}/api/v1${path}${rc.query ? `?${rc.query}` : ""}`;
  const response = await fetch(url, { method: op.method, headers, body: rc.body, redirect: "manual" });
  const answer: Answer = {
    method: op.method,
    path: new URL(url).pathname,
    status: response.status,
    headers: Object.fromEntries(response.headers.entries()),
    body: await response.text(),
  };
  return answer;
}

// Long runs (huge strings, deep nesting) shown as their length.
const shorten = (text: string) =>
  text.replace(/(.{1,2}?)\1{15,}/g, (run, unit) => `${unit}×${run.length / unit.length}`).slice(0, 400);

const knownIds = (operationId: string, field: string) => poolsByOperation[operationId]?.[field] ?? pools[field] ?? [];

// A stable seed per (operation, caller), derived from SEED.
function seedOf(opIndex: number, callerIndex: number) {
  return SEED + opIndex * CALLERS.length + callerIndex;
}

// --- fixtures -------------------------------------------------------------------------------------

// A checkout of the user's, paid on the local provider's page.
async function paidPayment(userId: string, packageId: string): Promise<string> {
  const { paymentId, checkoutUrl } = await server.services.payments.createCheckout(userId, packageId);
  const paid = await fetch(`${server.url}${new URL(checkoutUrl).pathname}/pay`, { method: "POST", redirect: "manual" });
  expect(paid.status).toBe(303);
  return paymentId;
}

async function adminSession(): Promise<string> {
  const email = `fuzz-admin-${randomUUID()}@example.test`;
  const created = await server.services.auth.createUser({ email, password: PASSWORD, role: "admin" });
  const login = await call(server.url, "POST", "/api/v1/auth/login", { body: { email, password: PASSWORD } });
  expect(login.status).toBe(200);
  pools.adminIds = [...(pools.adminIds ?? []), created.id];
  return login.headers.getSetCookie()[0]?.split(";")[0] ?? "";
}

async function createKey(scopes: string[]): Promise<{ id: string; key: string }> {
  const reply = await call(server.url, "POST", "/api/v1/admin/api-keys", {
    cookie: credentials.admin.cookie,
    body: { name: `fuzz ${scopes.join(" ")}`, scopes },
  });
  expect(reply.body).toMatchObject({ id: expect.any(String), key: expect.any(String) });
  return reply.body;
}

beforeAll(async () => {
  credentials.anonymous = {};
  credentials.admin = { cookie: await adminSession() };
  const user = await signUp(server.url, "fuzz-user");
  credentials.user = { cookie: user.cookie };
  for (const scope of ["credits:read", "credits:spend", "credits:grant"] as const) {
    credentials[`key ${scope}`] = { key: (await createKey([scope])).key };
  }
  const victim = await signUp(server.url, "fuzz-victim");
  const grant = await call(server.url, "POST", "/api/v1/credits/grant", {
    key: credentials["key credits:grant"].key,
    body: { userId: victim.id, amount: 5_000, idempotencyKey: randomUUID(), reason: "fuzz funds" },
  });
  expect(grant.status).toBe(200);
  const holds: string[] = [];
  for (let i = 0; i < 6; i++) {
    const hold = await call(server.url, "POST", "/api/v1/credits/holds", {
      key: credentials["key credits:spend"].key,
      body: { userId: victim.id, amount: 2, idempotencyKey: randomUUID() },
    });
    expect(hold.status).toBe(200);
    holds.push(hold.body.holdId);
  }
  // Webhook endpoints on a public address literal (no DNS), made before the adjustment requests
  // below so that those have deliveries to list and replay.
  const endpoints: string[] = [];
  for (let i = 0; i < 6; i++) {
    const created = await call(server.url, "POST", "/api/v1/admin/webhook-endpoints", {
      cookie: credentials.admin.cookie,
      body: { url: WEBHOOK_URL, events: ["adjustment.pending"] },
    });
    expect(created.status).toBe(200);
    endpoints.push(created.body.id);
  }
  const other = { cookie: await adminSession(), id: pools.adminIds?.at(-1) ?? "" };
  // Pending requests of their own for approve and for reject: one decides each request once.
  const requests: string[] = [];
  for (let i = 0; i < 8; i++) {
    const adjust = await call(server.url, "POST", "/api/v1/admin/adjust", {
      cookie: other.cookie,
      body: { userId: victim.id, amount: 20_000, reason: "fuzz approval", idempotencyKey: randomUUID() },
    });
    expect(adjust.body.status).toBe("pending");
    requests.push(adjust.body.adjustmentRequest.id);
  }
  const packs = await call(server.url, "GET", "/api/v1/packages");
  const checkout = await call(server.url, "POST", "/api/v1/checkout", {
    cookie: user.cookie,
    body: { packageId: packs.body.packages[0].id },
  });
  expect(checkout.status).toBe(201);
  // Paid payments to refund (the victim's), and refunds `other` asked for on its own payments
  // (money back to oneself: pending whatever the amount) to approve or reject.
  const paid: string[] = [];
  for (let i = 0; i < 6; i++) paid.push(await paidPayment(victim.id, packs.body.packages[0].id));
  const refundRequests: string[] = [];
  for (let i = 0; i < 8; i++) {
    const refund = await call(
      server.url,
      "POST",
      `/api/v1/admin/payments/${await paidPayment(other.id, packs.body.packages[0].id)}/refund`,
      {
        cookie: other.cookie,
        body: { reason: "fuzz approval", idempotencyKey: randomUUID() },
      },
    );
    expect(refund.body.status).toBe("pending");
    refundRequests.push(refund.body.id);
  }
  const run = await call(server.url, "POST", "/api/v1/admin/reconciliation/runs", { cookie: credentials.admin.cookie });
  const throwawayKeys: string[] = [];
  for (let i = 0; i < 4; i++) throwawayKeys.push((await createKey(["credits:read"])).id);
  const fuzzPacks: string[] = [];
  for (let i = 0; i < 8; i++) {
    const created = await call(server.url, "POST", "/api/v1/admin/packages", {
      cookie: credentials.admin.cookie,
      body: { name: `fuzz pack ${i}`, credits: 10, prices: [{ currency: "usd", unitAmount: 100 }] },
    });
    expect(created.status).toBe(200);
    fuzzPacks.push(created.body.id);
  }
  const throwawayUsers: string[] = [];
  for (let i = 0; i < 10; i++) throwawayUsers.push(await insertUser("fuzz-erasable"));

  Object.assign(pools, {
    // Mostly the funded victim, so spends, holds and grants can succeed.
    userId: [victim.id, victim.id, victim.id, user.id, randomUUID()],
    // The first page (a made-up cursor is a 400, tested by the mutations).
    cursor: [""],
    targetUserId: [victim.id],
    actorId: pools.adminIds ?? [],
    holdId: holds,
    paymentId: [checkout.body.paymentId],
    packageId: packs.body.packages.map((p: { id: string }) => p.id),
    sessionId: [checkout.body.checkoutUrl.split("/").at(-1)],
    email: [user.email],
    password: [PASSWORD],
    url: [WEBHOOK_URL],
    // Currencies the seeded packs are priced in (and others a price may be in).
    currency: ["usd", "usd", "eur", "jpy"],
  });
  // Edits and archives reach packs made for them, never the seeded ones the checkouts buy.
  poolsByOperation["admin-updatePackage"] = { id: fuzzPacks.slice(0, 4) };
  poolsByOperation["admin-archivePackage"] = { id: fuzzPacks.slice(4) };
  // Packs on sale: approving one answers it as it is (a pack awaiting approval is the fuzz admin's own).
  poolsByOperation["admin-approvePackage"] = { id: fuzzPacks.slice(0, 4) };
  poolsByOperation["admin-revokeApiKey"] = { id: throwawayKeys };
  const { deliveries } = await server.services.webhooks.listDeliveries(endpoints[0] ?? "", { limit: 10 });
  for (const op of [
    "listWebhookDeliveries",
    "rotateWebhookSecret",
    "disableWebhookEndpoint",
    "enableWebhookEndpoint",
  ]) {
    poolsByOperation[`admin-${op}`] = { id: endpoints.slice(0, 2) };
  }
  poolsByOperation["admin-deleteWebhookEndpoint"] = { id: endpoints.slice(2) };
  poolsByOperation["admin-replayWebhookDelivery"] = { id: deliveries.map((d) => d.id) };
  poolsByOperation["admin-approve"] = { id: requests.slice(0, 4) };
  poolsByOperation["admin-reject"] = { id: requests.slice(4) };
  poolsByOperation["admin-refundPayment"] = { paymentId: paid };
  // Receipts exist once paid: the victim's paid payments (an admin may read them; the owner is not a caller).
  poolsByOperation["checkout-receipt"] = { paymentId: paid };
  poolsByOperation["admin-approveRefund"] = { id: refundRequests.slice(0, 4) };
  poolsByOperation["admin-rejectRefund"] = { id: refundRequests.slice(4) };
  poolsByOperation["reconciliation-run"] = { id: run.body?.id ? [run.body.id] : [] };
  // A planted break of a user's ledger chain, so an acknowledgement can succeed.
  const broken = await plantLedgerBreak(testDb.db);
  poolsByOperation["reconciliation-acknowledgeBreak"] = { userId: [broken.userId], seq: [String(broken.seq)] };
  // A grant's expiry in the future (one in the past is a 400 the mutations cover), whatever the seed draws.
  poolsByOperation["admin-adjust"] = { expiresAt: ["2030-01-01T00:00:00.000Z"] };
  // Ranges the stats accept (from before to, at most a year), whatever the seed draws.
  poolsByOperation["admin-dailyStats"] = { from: ["2026-06-01", "2026-11-01"], to: ["2026-11-30", "2026-12-31"] };
  // Erasure only ever reaches users made to be erased; confirmEmail, when drawn, is one of theirs
  // (the right one for its user now and then: a wrong one is a 400 that erases nothing).
  const throwawayEmails = await Promise.all(
    throwawayUsers.map(async (id) => (await server.services.admin.userSummary(id)).email ?? ""),
  );
  poolsByOperation["admin-eraseUser"] = { userId: throwawayUsers, confirmEmail: throwawayEmails };
  console.info(`openapi fuzz: seed ${SEED}, ${operations.length} operations x ${CALLERS.length} callers`);
});

describe("every operation of the OpenAPI document, every caller, generated and mutated inputs", () => {
  it("the document lists the operations to walk", () => {
    expect(operations.length).toBeGreaterThanOrEqual(30);
  });

  it.each(operations.map((op, index) => [`${op.method} ${op.path}`, op, index] as const))(
    "%s: no 5xx, errors in shape, 2xx as documented",
    async (_label, op, opIndex) => {
      const failures: string[] = [];
      const destructive = DESTRUCTIVE.has(op.id);
      for (const [callerIndex, caller] of CALLERS.entries()) {
        const cases = fc.sample(requestCases(op, knownIds), {
          seed: seedOf(opIndex, callerIndex),
          numRuns: destructive ? DESTRUCTIVE_CASES : CASES_PER_CALLER,
        });
        for (const rc of cases) {
          const who = destructive ? await throwawayCaller(caller) : credentials[caller];
          const answer = await send(op, who, rc);
          const counts = statuses.get(op.id) ?? new Map<number, number>();
          statuses.set(op.id, counts.set(answer.status, (counts.get(answer.status) ?? 0) + 1));
          const problem = problemOf(answer);
          if (problem) {
            const input = JSON.stringify({ path: rc.pathParams, query: rc.query, body: rc.body });
            failures.push(`${op.id} as ${caller}, ${rc.mutation}: ${problem}\n    input ${shorten(input)}`);
          }
        }
      }
      expect(failures, `seed ${SEED}:\n${failures.join("\n")}`).toEqual([]);
    },
  );

  it("reached success on every operation (valid inputs are valid), and refusals on most", () => {
    const summary = [...statuses].map(([id, counts]) => `${id}: ${[...counts].map(([k, n]) => `${k}×${n}`).join(" ")}`);
    console.info(`openapi fuzz statuses:\n${summary.join("\n")}`);
    const unreached = operations
      .filter((op) => !NO_SUCCESS_EXPECTED.has(op.id))
      .filter((op) => ![...(statuses.get(op.id)?.keys() ?? [])].some((status) => status < 300));
    expect(unreached.map((op) => op.id)).toEqual([]);
  });
});
