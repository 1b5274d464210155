// Sessions over real HTTP: token per log-in, only its hash stored, log-out (here and everywhere),
// cookie attributes (and the __Host- name in production), sliding expiry (the log-in rate limit,
// the CSRF guard and CORS: sessions-guards.test.ts).
import { sessionIdOf } from "@credits/core";
import { rowsOf } from "@credits/db";
import { sessions } from "@credits/db/schema";
import { describe, expect, it } from "vitest";
import {
  call,
  DAY_MS,
  db,
  logIn,
  meStatus,
  newEmail,
  onlyCookie,
  PASSWORD,
  production,
  sessionRow,
  signUp,
} from "./sessions-helpers.ts";

describe("session tokens", () => {
  it("each log-in issues a new token; both stay valid; the session cookie carries the account", async () => {
    const user = await signUp();
    const first = await logIn(user.email);
    const second = await logIn(user.email);
    expect(new Set([user.token, first.token, second.token]).size).toBe(3);
    for (const { cookie } of [user, first, second]) {
      const me = await call("GET", "/api/v1/me", { cookie });
      expect(me.status).toBe(200);
      expect(me.body.id).toBe(user.id);
    }
    const listed = await call("GET", "/api/v1/me/sessions", { cookie: first.cookie });
    expect(listed.body.sessions).toHaveLength(3);
  });

  it("stores only the token's SHA-256, never the token", async () => {
    const user = await signUp();
    const { token } = await logIn(user.email);
    const rows = await db.select().from(sessions);
    const mine = rows.filter((row) => row.userId === user.id);
    expect(mine.map((row) => row.id).sort()).toEqual([sessionIdOf(user.token), sessionIdOf(token)].sort());
    for (const row of mine) expect(row.id).toMatch(/^[0-9a-f]{64}$/);
    const dump = JSON.stringify(rowsOf(await db.execute("SELECT * FROM sessions")), (_, value) =>
      typeof value === "bigint" ? String(value) : value,
    );
    expect(dump).not.toContain(token);
    expect(dump).not.toContain(user.token);
    // Nor does the session list show the stored id in full.
    const listed = await call("GET", "/api/v1/me/sessions", { cookie: `session=${token}` });
    expect(JSON.stringify(listed.body)).not.toContain(sessionIdOf(token));
  });

  it("a token that is unknown or malformed is not a session, and the cookie is cleared", async () => {
    for (const cookie of ["session=abcdefghijklmnopqrstuvwxyz234567", "session=not-a-token", "session="]) {
      const reply = await call("GET", "/api/v1/me", { cookie });
      expect(reply.status, cookie).toBe(401);
    }
    const unknown = await call("GET", "/api/v1/me", { cookie: "session=abcdefghijklmnopqrstuvwxyz234567" });
    expect(unknown.headers.getSetCookie()).toEqual(["session=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0"]);
  });

  it("log-out ends this session only", async () => {
    const user = await signUp();
    const other = await logIn(user.email);
    const reply = await call("POST", "/api/v1/auth/logout", { cookie: user.cookie });
    expect(reply.status).toBe(204);
    expect(onlyCookie(reply).attributes.get("max-age")).toBe("0");
    expect(await meStatus(user.cookie)).toBe(401);
    expect(await sessionRow(user.token)).toBeNull();
    expect(await meStatus(other.cookie)).toBe(200);
  });

  it("log-out-everywhere from one session ends every session of the account, and no one else's", async () => {
    const user = await signUp();
    const laptop = await logIn(user.email);
    const phone = await logIn(user.email);
    const bystander = await signUp();
    const reply = await call("POST", "/api/v1/auth/logout-everywhere", { cookie: phone.cookie });
    expect(reply.status).toBe(204);
    expect(onlyCookie(reply).attributes.get("max-age")).toBe("0");
    for (const { cookie } of [user, laptop, phone]) expect(await meStatus(cookie)).toBe(401);
    expect((await db.select().from(sessions)).filter((row) => row.userId === user.id)).toEqual([]);
    expect(await meStatus(bystander.cookie)).toBe(200);
    // A new log-in works again afterwards.
    expect(await meStatus((await logIn(user.email)).cookie)).toBe(200);
  });

  it("an expired session is refused, cleared and deleted", async () => {
    const user = await signUp();
    await db.execute(
      `UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = '${sessionIdOf(user.token)}'`,
    );
    const reply = await call("GET", "/api/v1/me", { cookie: user.cookie });
    expect(reply.status).toBe(401);
    expect(onlyCookie(reply).attributes.get("max-age")).toBe("0");
    expect(await sessionRow(user.token)).toBeNull();
  });

  it("a session used with less than 15 days left slides to a full 30 days and the cookie is re-sent", async () => {
    const user = await signUp();
    await db.execute(
      `UPDATE sessions SET expires_at = now() + interval '2 days' WHERE id = '${sessionIdOf(user.token)}'`,
    );
    const reply = await call("GET", "/api/v1/me", { cookie: user.cookie });
    expect(reply.status).toBe(200);
    const cookie = onlyCookie(reply);
    expect(cookie.value).toBe(user.token);
    const expires = Date.parse(cookie.attributes.get("expires") ?? "");
    expect(Math.abs(expires - (Date.now() + 30 * DAY_MS))).toBeLessThan(60_000);
    const row = await sessionRow(user.token);
    expect(Math.abs((row?.expiresAt.getTime() ?? 0) - (Date.now() + 30 * DAY_MS))).toBeLessThan(60_000);
    // A fresh session is not re-sent on every request.
    const again = await call("GET", "/api/v1/me", { cookie: user.cookie });
    expect(again.headers.getSetCookie()).toEqual([]);
  });
});

describe("the session cookie", () => {
  it("is HttpOnly, Secure, SameSite=Lax, Path=/ and expires in 30 days, on sign-up and log-in", async () => {
    const email = newEmail();
    const signup = await call("POST", "/api/v1/auth/signup", { body: { email, password: PASSWORD } });
    const login = await call("POST", "/api/v1/auth/login", { body: { email, password: PASSWORD } });
    for (const reply of [signup, login]) {
      const cookie = onlyCookie(reply);
      expect(cookie.name).toBe("session");
      expect(cookie.value).toMatch(/^[a-z2-7]{32}$/);
      expect([...cookie.attributes.keys()].sort()).toEqual(["expires", "httponly", "path", "samesite", "secure"]);
      expect(cookie.attributes.get("path")).toBe("/");
      expect(cookie.attributes.get("samesite")).toBe("Lax");
      const expires = Date.parse(cookie.attributes.get("expires") ?? "");
      expect(Math.abs(expires - (Date.now() + 30 * DAY_MS))).toBeLessThan(60_000);
      // The stored expiry is the cookie's (to the second: Expires has no milliseconds).
      const row = await sessionRow(cookie.value);
      expect(Math.abs((row?.expiresAt.getTime() ?? 0) - expires)).toBeLessThan(1_000);
    }
  });

  it("is __Host-session in production, with no Domain, and only that name is accepted there", async () => {
    const user = await signUp(production.url);
    const email = user.email;
    const login = await call("POST", "/api/v1/auth/login", {
      base: production.url,
      body: { email, password: PASSWORD },
    });
    expect(login.status).toBe(200);
    const cookie = onlyCookie(login);
    expect(cookie.name).toBe("__Host-session");
    expect([...cookie.attributes.keys()].sort()).toEqual(["expires", "httponly", "path", "samesite", "secure"]);
    expect(cookie.attributes.get("path")).toBe("/");
    expect(cookie.attributes.get("samesite")).toBe("Lax");
    expect(await meStatus(`__Host-session=${cookie.value}`, production.url)).toBe(200);
    expect(await meStatus(`session=${cookie.value}`, production.url)).toBe(401);

    const logout = await call("POST", "/api/v1/auth/logout", {
      base: production.url,
      cookie: `__Host-session=${cookie.value}`,
    });
    expect(logout.status).toBe(204);
    expect(logout.headers.getSetCookie()).toEqual([
      "__Host-session=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0",
    ]);
    expect(await meStatus(`__Host-session=${cookie.value}`, production.url)).toBe(401);
    expect(await meStatus(user.cookie, production.url)).toBe(200);
  });
});
