// Shared by the refund tests: admins, paid purchases whose charge the msw Stripe mock can refund,
// and the refund call itself, all through real HTTP.
import { randomUUID } from "node:crypto";
import { adminActions, paymentRefunds } from "@credits/db/schema";
import { eq, sql } from "drizzle-orm";
import { expect } from "vitest";
import type { RunningServer } from "../../src/main.ts";
import {
  call,
  charge,
  db,
  deliver,
  PASSWORD,
  type Purchase,
  purchaseEvents,
  type Reply,
  type StripeMock,
  startPurchase,
} from "./helpers.ts";

export interface Admin {
  id: string;
  cookie: string;
}

export async function createAdmin(server: RunningServer): Promise<Admin> {
  const email = `admin-${randomUUID()}@example.test`;
  const user = await server.services.auth.createUser({ email, password: PASSWORD, role: "admin" });
  const login = await call(server.url, "POST", "/api/v1/auth/login", { body: { email, password: PASSWORD } });
  expect(login.status).toBe(200);
  return { id: user.id, cookie: login.headers.getSetCookie()[0]?.split(";")[0] ?? "" };
}

// A purchase Stripe completed and charged: credited through the webhook, its charge refundable.
export async function paidPurchase(
  server: RunningServer,
  mock: StripeMock,
  slug: "starter" | "standard" | "pro",
  userId?: string,
): Promise<Purchase> {
  const purchase = await startPurchase(server, slug, userId);
  const reply = await deliver(server.url, purchaseEvents(mock, purchase).completed());
  expect(reply.status).toBe(200);
  mock.addCharge(
    charge({
      id: purchase.chargeId,
      amount: purchase.amountMinor,
      amount_refunded: 0,
      payment_intent: purchase.paymentIntent,
    }),
  );
  return purchase;
}

export function refund(
  server: RunningServer,
  admin: Admin | { cookie: string },
  paymentId: string,
  body: Record<string, unknown>,
): Promise<Reply> {
  return call(server.url, "POST", `/api/v1/admin/payments/${paymentId}/refund`, {
    cookie: admin.cookie,
    body: { reason: "customer asked", idempotencyKey: randomUUID(), ...body },
  });
}

export const decideRefund = (server: RunningServer, admin: Admin, id: string, decision: "approve" | "reject") =>
  call(server.url, "POST", `/api/v1/admin/refunds/${id}/${decision}`, { cookie: admin.cookie });

export const refundsOf = (paymentId: string) =>
  db.select().from(paymentRefunds).where(eq(paymentRefunds.paymentId, paymentId));

// The payment's refund audit rows, sorted (rows of one transaction share a timestamp).
export const refundAudit = async (paymentId: string) =>
  (
    await db
      .select({ action: adminActions.action })
      .from(adminActions)
      .where(sql`${adminActions.detail}->>'paymentId' = ${paymentId}`)
  )
    .map((row) => row.action)
    .sort();
