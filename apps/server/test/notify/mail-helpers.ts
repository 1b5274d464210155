// Shared by the mail tests: a user with a hostile display name, and a purchase of a pack with a
// hostile name through the local provider's checkout page.
import { randomUUID } from "node:crypto";
import { creditPackages, users } from "@credits/db/schema";
import { testDb } from "@credits/db/test-setup";
import { eq } from "drizzle-orm";
import { expect } from "vitest";
import { call as httpCall } from "../http-call.ts";

const { db } = testDb;
const PASSWORD = "correct horse battery";
export const HOSTILE_NAME = '<img src=x onerror=alert(1)> "Eve"\r\nBcc: victim@example.test';
export const HOSTILE_PACK = "<b>Pro</b>\r\nSubject: injected\r\nX-Evil: 1";

export const call = (base: string, method: string, path: string, options = {}) =>
  httpCall(base, method, path, options, { strictJson: false });

export async function signUp(base: string) {
  const email = `mail-${randomUUID()}@example.test`;
  const reply = await call(base, "POST", "/api/v1/auth/signup", { body: { email, password: PASSWORD } });
  expect(reply.status).toBe(201);
  const cookie = reply.headers.getSetCookie()[0]?.split(";")[0] ?? "";
  await db.update(users).set({ name: HOSTILE_NAME }).where(eq(users.id, reply.body.user.id));
  return { id: reply.body.user.id as string, email, cookie };
}

// outcome: the local checkout page's button ("pay_declining_card" saves a card that declines auto
// top-ups, when the buyer opted in).
export async function buy(base: string, cookie: string, outcome: "pay" | "pay_declining_card" = "pay") {
  const [pack] = await db.select().from(creditPackages).where(eq(creditPackages.slug, "starter"));
  if (!pack) throw new Error("no starter pack");
  await db.update(creditPackages).set({ name: HOSTILE_PACK }).where(eq(creditPackages.id, pack.id));
  const created = await call(base, "POST", "/api/v1/checkout", { cookie, body: { packageId: pack.id } });
  expect(created.status).toBe(201);
  const sessionPath = new URL(created.body.checkoutUrl).pathname;
  const paid = await call(base, "POST", `${sessionPath}/${outcome}`, { headers: { origin: "http://localhost:3000" } });
  expect(paid.status).toBe(303);
  return { paymentId: created.body.paymentId as string, credits: pack.credits, packageId: pack.id };
}
