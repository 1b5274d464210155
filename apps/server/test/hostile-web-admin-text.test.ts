// The admin pages' searches and filters take text from the address bar: text the one text schema
// refuses (NUL, other controls, bidirectional overrides) finds no one, and never answers 500.
import { users } from "@credits/db/schema";
import { eq } from "drizzle-orm";
import { expect, it } from "vitest";
import { testDb } from "./harness.ts";
import { signUp, startWebServer } from "./hostile-web-helpers.ts";

const server = await startWebServer("production");
const base = server.url;

it.each([
  ["/admin/users?q=%E2%80%AEmoc.elpmaxe", 200, "No user matches"],
  ["/admin/users?q=a%00b", 200, "No user matches"],
  ["/admin/audit?actor=%E2%80%AEx%40example.test", 400, "No user has this email or id."],
  ["/admin/audit?target=a%00b%40example.test", 400, "No user has this email or id."],
])("%s answers %i", async (path, status, says) => {
  const admin = await signUp(base);
  await testDb.db.update(users).set({ role: "admin" }).where(eq(users.id, admin.id));
  const page = await fetch(`${base}${path}`, { headers: { cookie: admin.cookie } });
  expect(page.status).toBe(status);
  expect(await page.text()).toContain(says);
});
