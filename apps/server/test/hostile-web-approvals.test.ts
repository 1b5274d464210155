// The approvals page offers a decision only to an admin the server lets decide: neither the
// requester nor the beneficiary of an adjustment (core/admin/admin.ts) gets its buttons.
import { randomUUID } from "node:crypto";
import { users } from "@credits/db/schema";
import { eq } from "drizzle-orm";
import { expect, it } from "vitest";
import { testDb } from "./harness.ts";
import { signUp, startWebServer } from "./hostile-web-helpers.ts";

const server = await startWebServer("production");
const base = server.url;

async function admin() {
  const user = await signUp(base);
  await testDb.db.update(users).set({ role: "admin" }).where(eq(users.id, user.id));
  return user;
}

it("the beneficiary of a pending adjustment sees no Approve button for it; a third admin does", async () => {
  const [alice, bob, carol] = [await admin(), await admin(), await admin()];
  const filed = await fetch(`${base}/api/v1/admin/adjust`, {
    method: "POST",
    headers: { cookie: alice.cookie, "content-type": "application/json" },
    body: JSON.stringify({ userId: bob.id, amount: 20_000, reason: "bonus", idempotencyKey: randomUUID() }),
  });
  expect(((await filed.json()) as { status: string }).status).toBe("pending");
  const page = async (cookie: string) => (await fetch(`${base}/admin/approvals`, { headers: { cookie } })).text();
  const button = `aria-label="Approve +20,000 credits for ${bob.email}"`;
  const forBob = await page(bob.cookie);
  expect(forBob).toContain("For you: another admin decides");
  expect(forBob).not.toContain(button);
  expect(await page(carol.cookie)).toContain(button);
});
