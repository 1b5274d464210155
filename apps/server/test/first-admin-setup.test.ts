// The first admin from the browser, through the real server and the built web app: on a database
// with no admin the server prints one setup token at start; /setup takes it once, and is gone
// (404) as soon as an admin exists. The token is never printed again: the end-of-run log scan
// fails on any line but the announcement that holds it.
import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { PASSWORD, postForm, startWebServer } from "./hostile-web-helpers.ts";

const lines: string[] = [];
const server = await startWebServer("production", {}, (line) => lines.push(line));
const base = server.url;
const TOKEN = /setup_[a-z2-7]{32}/;

const setUp = (fields: Record<string, string>) => postForm(base, "/setup", fields, { origin: base });
// Another server on the same database, with a small per-address budget (shared with log-in).
const limited = await startWebServer("production", { AUTH_RATE_LIMIT_PER_MINUTE: "2" });

it("is rate-limited like log-in: past the per-address budget, a 429 without trying the token", async () => {
  const statuses: number[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const fields = { token: `setup_${"b".repeat(32)}`, email: "guess@example.test", password: PASSWORD };
    statuses.push((await postForm(limited.url, "/setup", fields, { origin: limited.url })).status);
  }
  expect(statuses).toEqual([401, 401, 429]);
});

it("prints one token at start, takes it once, then /setup is gone", async () => {
  const announcements = lines.filter((line) => TOKEN.test(line));
  expect(announcements).toHaveLength(1);
  expect(announcements[0]).toContain(`${base}/setup`);
  const token = TOKEN.exec(announcements[0] ?? "")?.[0] ?? "";
  expect((await fetch(`${base}/setup`)).status).toBe(200);

  const email = `first-admin-${randomUUID()}@example.test`;
  const wrong = await setUp({ token: `setup_${"a".repeat(32)}`, email, password: PASSWORD });
  expect(wrong.status).toBe(401);
  expect(await wrong.text()).toContain("That setup token is not right.");
  expect(await server.services.auth.logIn({ email, password: PASSWORD }).catch(() => null)).toBeNull();

  const made = await setUp({ token, email, password: PASSWORD });
  expect(made.status).toBe(302);
  expect(made.headers.get("location")).toBe("/admin");
  const cookie = made.headers.getSetCookie()[0]?.split(";")[0] ?? "";
  const me = (await (await fetch(`${base}/api/v1/me`, { headers: { cookie } })).json()) as { role: string };
  expect(me.role).toBe("admin");

  // Once: the same token again makes no second admin, and the page is a 404 from now on.
  const again = await setUp({ token, email: `second-${randomUUID()}@example.test`, password: PASSWORD });
  expect(again.status).toBe(404);
  expect((await fetch(`${base}/setup`)).status).toBe(404);
  expect(await server.services.admin.searchUsers("second-")).toEqual([]);
  expect(lines.filter((line) => line.includes(token))).toHaveLength(1);
});
