import {
  AlreadyExistsError,
  InvalidInputError,
  SESSION_TTL_MS,
  sessionIdOf,
  UnauthenticatedError,
} from "@credits/core";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { sessions, users } from "../src/schema.ts";
import { advance, auth, DAY_MS, db, email, now, password, setNow, start, tableContains } from "./auth-fixtures.ts";

describe("accounts", () => {
  it("signs up with a normalized email, logs in, and never exposes the password hash", async () => {
    const address = email();
    const signedUp = await auth.signUp({ email: `  ${address.toUpperCase()} `, password, name: " Ada " });
    expect(signedUp.user).toEqual({
      id: expect.any(String),
      email: address,
      name: "Ada",
      role: "user",
      createdAt: expect.any(Date),
    });
    expect(signedUp.token).toMatch(/^[a-z2-7]{32}$/);
    const [row] = await db.select().from(users).where(eq(users.id, signedUp.user.id));
    expect(row?.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const loggedIn = await auth.logIn({ email: address.toUpperCase(), password });
    expect(loggedIn.user).toEqual(signedUp.user);
    expect(JSON.stringify(loggedIn)).not.toContain("argon2");
    expect(await auth.getUser(signedUp.user.id)).toEqual(signedUp.user);
  });

  it("answers a wrong password and an unknown email with the same error", async () => {
    const address = email();
    await auth.signUp({ email: address, password });
    const attempts = [
      { email: address, password: "wrong password!" },
      { email: email(), password },
      { email: "not an email", password },
      { email: address, password: "x".repeat(10_000) },
    ];
    for (const attempt of attempts) {
      await expect(auth.logIn(attempt)).rejects.toThrow(new UnauthenticatedError("invalid email or password"));
    }
  });

  it("validates sign-up input", async () => {
    const cases = [
      { email: "nope", password },
      { email: "a@b", password },
      { email: `${"a".repeat(250)}@example.test`, password },
      { email: email(), password: "short12" },
      { email: email(), password: "x".repeat(201) },
      { email: email(), password, name: "n".repeat(101) },
    ];
    for (const input of cases) await expect(auth.signUp(input)).rejects.toBeInstanceOf(InvalidInputError);
    await expect(auth.signUp({ email: email(), password: "12345678" })).resolves.toBeDefined();
    await expect(auth.signUp({ email: email(), password: "x".repeat(200) })).resolves.toBeDefined();
  });

  it("refuses a duplicate email, whatever its case", async () => {
    const address = email();
    await auth.signUp({ email: address, password });
    await expect(auth.signUp({ email: address.toUpperCase(), password })).rejects.toBeInstanceOf(AlreadyExistsError);
    await expect(auth.createUser({ email: address, password, role: "admin" })).rejects.toBeInstanceOf(
      AlreadyExistsError,
    );
  });

  it("lets exactly one of ten concurrent sign-ups with one email succeed", async () => {
    const address = email();
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => auth.signUp({ email: address, password: `${password} ${i}` })),
    );
    const won = results.filter((result) => result.status === "fulfilled");
    const lost = results.filter((result) => result.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost.every((result) => result.reason instanceof AlreadyExistsError)).toBe(true);
    const rows = await db.select({ id: users.id }).from(users).where(eq(users.email, address));
    expect(rows).toHaveLength(1);
  });

  it("never logs in an erased user or one without a password", async () => {
    const erased = await auth.signUp({ email: email(), password });
    await db.update(users).set({ erasedAt: now }).where(eq(users.id, erased.user.id));
    await expect(auth.logIn({ email: erased.user.email, password })).rejects.toBeInstanceOf(UnauthenticatedError);
    // Its existing session stops working too, and is removed.
    expect(await auth.validateSession(erased.token)).toBeNull();
    expect(await db.select().from(sessions).where(eq(sessions.userId, erased.user.id))).toHaveLength(0);
    expect(await auth.getUser(erased.user.id)).toBeNull();

    const noPassword = email();
    await db.insert(users).values({ email: noPassword });
    await expect(auth.logIn({ email: noPassword, password })).rejects.toBeInstanceOf(UnauthenticatedError);
    await expect(auth.logIn({ email: noPassword, password: "" })).rejects.toBeInstanceOf(UnauthenticatedError);
  });

  it("creates admins for the CLI", async () => {
    const admin = await auth.createUser({ email: email(), password, role: "admin" });
    expect(admin.role).toBe("admin");
    await expect(auth.createUser({ email: email(), password, role: "root" as "admin" })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    expect((await auth.logIn({ email: admin.email, password })).user.role).toBe("admin");
  });
});

describe("sessions", () => {
  it("issues a new token at every log-in and stores only its hash", async () => {
    const address = email();
    const first = await auth.signUp({ email: address, password });
    const second = await auth.logIn({ email: address, password });
    const third = await auth.logIn({ email: address, password });
    expect(new Set([first.token, second.token, third.token]).size).toBe(3);
    for (const { token } of [first, second, third]) {
      expect((await auth.validateSession(token))?.user.id).toBe(first.user.id);
      expect(await tableContains("sessions", token)).toBe(false);
      const [row] = await db
        .select()
        .from(sessions)
        .where(eq(sessions.id, sessionIdOf(token)));
      expect(row?.id).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it("slides the expiry forward once less than 15 days remain", async () => {
    const { token, expiresAt } = await auth.signUp({ email: email(), password });
    expect(expiresAt.getTime()).toBe(start.getTime() + SESSION_TTL_MS);

    advance(14 * DAY_MS); // 16 days left: untouched
    const early = await auth.validateSession(token);
    expect(early?.refreshed).toBe(false);
    expect(early?.session.expiresAt).toEqual(expiresAt);

    advance(2 * DAY_MS); // 14 days left: renewed to 30 from now
    const late = await auth.validateSession(token);
    expect(late?.refreshed).toBe(true);
    expect(late?.session.expiresAt.getTime()).toBe(now.getTime() + SESSION_TTL_MS);
    const [row] = await db
      .select()
      .from(sessions)
      .where(eq(sessions.id, sessionIdOf(token)));
    expect(row?.expiresAt.getTime()).toBe(now.getTime() + SESSION_TTL_MS);

    advance(29 * DAY_MS); // beyond the first expiry, within the renewed one
    expect(await auth.validateSession(token)).not.toBeNull();
  });

  it("rejects and deletes an expired session", async () => {
    const { token } = await auth.signUp({ email: email(), password });
    advance(SESSION_TTL_MS);
    expect(await auth.validateSession(token)).toBeNull();
    expect(
      await db
        .select()
        .from(sessions)
        .where(eq(sessions.id, sessionIdOf(token))),
    ).toHaveLength(0);
    setNow(start);
    expect(await auth.validateSession(token)).toBeNull();
  });

  it("rejects malformed and unknown tokens", async () => {
    for (const token of ["", "abc", "A".repeat(32), `${"a".repeat(31)}1`, "a".repeat(32)]) {
      expect(await auth.validateSession(token)).toBeNull();
    }
  });

  it("ends one session at log-out and all of a user's at log-out everywhere", async () => {
    const address = email();
    const a = await auth.signUp({ email: address, password });
    const b = await auth.logIn({ email: address, password });
    const c = await auth.logIn({ email: address, password });
    const other = await auth.signUp({ email: email(), password });

    await auth.logOut(a.token);
    await auth.logOut(a.token);
    expect(await auth.validateSession(a.token)).toBeNull();
    expect(await auth.validateSession(b.token)).not.toBeNull();

    expect(await auth.logOutEverywhere(a.user.id)).toBe(2);
    expect(await auth.validateSession(b.token)).toBeNull();
    expect(await auth.validateSession(c.token)).toBeNull();
    expect(await auth.validateSession(other.token)).not.toBeNull();
    expect(await auth.logOutEverywhere("not-a-user-id")).toBe(0);
    expect(await auth.listSessions("not-a-user-id")).toEqual([]);
    expect(await auth.getUser("not-a-user-id")).toBeNull();
  });

  it("lists live sessions by a short reference, never the token", async () => {
    const address = email();
    const old = await auth.signUp({ email: address, password });
    advance(DAY_MS);
    const current = await auth.logIn({ email: address, password });
    const listed = await auth.listSessions(current.user.id);
    expect(listed.map((s) => s.createdAt)).toEqual([now, start]);
    const validated = await auth.validateSession(current.token);
    expect(listed[0]?.id).toBe(validated?.session.id);
    for (const session of listed) {
      expect(session.id).toMatch(/^[0-9a-f]{12}$/);
      expect(Object.keys(session).sort()).toEqual(["createdAt", "expiresAt", "id"]);
    }
    expect(JSON.stringify(listed)).not.toContain(old.token);
    expect(JSON.stringify(listed)).not.toContain(sessionIdOf(old.token));
    advance(SESSION_TTL_MS - DAY_MS); // the first has expired
    expect(await auth.listSessions(current.user.id)).toHaveLength(1);
  });
});
