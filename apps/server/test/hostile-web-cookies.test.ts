// A session refreshed by the sliding expiry while a page is served: whatever the page answers (its
// data, a redirect it returns or throws, an error page), the refreshed cookie goes with it. The
// browser asks for a page's data alone (`.data`, Remix's single fetch) when it navigates, so the
// root loader, which also sends it, is not there to cover for the page.
import { randomUUID } from "node:crypto";
import { sessionIdOf } from "@credits/core";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { testDb } from "./harness.ts";
import { postForm, signUp, startWebServer, type User } from "./hostile-web-helpers.ts";

const server = await startWebServer("production");
const base = server.url;
const DAY_MS = 24 * 60 * 60 * 1000;

const tokenOf = (user: User) => user.cookie.split("=")[1] ?? "";

// Two days left: the next use slides the session to 30 days and must re-send the cookie.
async function nearlyExpired(user: User): Promise<void> {
  await testDb.db.execute(
    sql`UPDATE sessions SET expires_at = now() + interval '2 days' WHERE id = ${sessionIdOf(tokenOf(user))}`,
  );
}

function expectRefreshed(reply: Response, user: User): void {
  const cookies = reply.headers.getSetCookie();
  expect(cookies).toHaveLength(1);
  const [pair = "", ...attributes] = (cookies[0] ?? "").split("; ");
  expect(pair).toBe(user.cookie);
  const expires = attributes.find((a) => a.toLowerCase().startsWith("expires="))?.slice("expires=".length);
  expect(Math.abs(Date.parse(expires ?? "") - (Date.now() + 30 * DAY_MS))).toBeLessThan(60_000);
}

const get = (path: string, user: User) =>
  fetch(`${base}${path}`, { headers: { cookie: user.cookie }, redirect: "manual" });

async function admin(): Promise<User> {
  const user = await signUp(base);
  await testDb.db.execute(sql`UPDATE users SET role = 'admin' WHERE id = ${user.id}`);
  return user;
}

describe("a refreshed session cookie is sent with", () => {
  it("a page's data", async () => {
    const user = await signUp(base);
    await nearlyExpired(user);
    const reply = await get("/credits.data?_routes=routes%2Fcredits._index", user);
    expect(reply.status).toBe(200);
    expectRefreshed(reply, user);
  });

  it("a redirect an action returns (checkout)", async () => {
    const user = await signUp(base);
    const { packages } = (await (await fetch(`${base}/api/v1/packages`)).json()) as { packages: { id: string }[] };
    await nearlyExpired(user);
    const reply = await postForm(
      base,
      "/credits?index",
      { intent: "buy", packageId: packages[0]?.id ?? "", checkoutKey: randomUUID() },
      { origin: base, cookie: user.cookie },
    );
    expect(reply.status).toBe(302);
    expect(reply.headers.get("location")).toContain("/checkout/local/");
    expectRefreshed(reply, user);
  });

  it("a redirect a loader throws (the log-in page, signed in)", async () => {
    const user = await signUp(base);
    await nearlyExpired(user);
    const reply = await get("/login?redirectTo=%2Faccount", user);
    expect(reply.status).toBe(302);
    expect(reply.headers.get("location")).toBe("/account");
    expectRefreshed(reply, user);
  });

  it("an action's form error (an expired report form)", async () => {
    const user = await signUp(base);
    await nearlyExpired(user);
    const reply = await postForm(
      base,
      "/credits.data?index",
      { intent: "report", idempotencyKey: "not-a-key" },
      { origin: base, cookie: user.cookie },
    );
    expect(reply.status).toBe(400);
    expectRefreshed(reply, user);
  });

  it("an error page: a plain user on an admin page, an admin on a user who does not exist", async () => {
    const user = await signUp(base);
    await nearlyExpired(user);
    const refused = await get("/admin.data?_routes=routes%2Fadmin", user);
    expect(refused.status).toBe(403);
    expectRefreshed(refused, user);

    const boss = await admin();
    await nearlyExpired(boss);
    const missing = await get(`/admin/users/${randomUUID()}.data?_routes=routes%2Fadmin.users.%24userId`, boss);
    expect(missing.status).toBe(404);
    expectRefreshed(missing, boss);
  });
});
