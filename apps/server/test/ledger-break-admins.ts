import { randomUUID } from "node:crypto";
import { rowsOf } from "@credits/db";
import { users } from "@credits/db/schema";
import { sql } from "drizzle-orm";
import { expect } from "vitest";
import type { RunningServer } from "../src/main.ts";
import { testDb } from "./harness.ts";
import { call } from "./http-call.ts";

// Admins signed in over real HTTP, and users with a break in their ledger chain: who may
// acknowledge a break (reconciliation.acknowledgeBreak, ADR 012).
export function breakAdmins(server: RunningServer) {
  const { db } = testDb;

  async function adminCookie(): Promise<{ id: string; cookie: string }> {
    const email = `admin-${randomUUID()}@example.test`;
    const password = "correct horse battery";
    const admin = await server.services.auth.createUser({ email, password, role: "admin" });
    const login = await call(server.url, "POST", "/api/v1/auth/login", { body: { email, password } });
    expect(login.status).toBe(200);
    return { id: admin.id, cookie: login.headers.getSetCookie()[0]?.split(";")[0] ?? "" };
  }

  const acknowledge = (cookie: string, body: Record<string, unknown>) =>
    call(server.url, "POST", "/api/v1/admin/reconciliation/ledger-breaks", { cookie, body });

  async function bareUser(): Promise<string> {
    const [user] = await db
      .insert(users)
      .values({ email: `acks-${randomUUID()}@example.test` })
      .returning();
    return user?.id ?? "";
  }

  const grantTen = (userId: string) =>
    db.execute(sql`
      SELECT * FROM post_ledger(jsonb_build_array(jsonb_build_object(
        'ord', 0, 'user_id', ${userId}::uuid, 'amount', 10, 'kind', 'grant', 'idempotency_key', ${randomUUID()}::text)))`);

  // After a grant of 10: a spend of 1 whose balance_after is `jump` too high.
  async function spendBroken(userId: string, jump: number): Promise<number> {
    const [row] = rowsOf<{ seq: number }>(
      await db.execute(sql`
        INSERT INTO credit_transactions (user_id, amount, balance_after, kind, idempotency_key)
        VALUES (${userId}::uuid, -1, ${9 + jump}, 'spend', ${randomUUID()}) RETURNING seq::int AS seq`),
    );
    return row?.seq ?? 0;
  }

  // On a user with no ledger yet: a grant of 10, then the broken spend.
  async function breakOf(userId: string, jump: number): Promise<number> {
    await grantTen(userId);
    return spendBroken(userId, jump);
  }

  return { adminCookie, acknowledge, bareUser, breakOf, grantTen, spendBroken };
}
