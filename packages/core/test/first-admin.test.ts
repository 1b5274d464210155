// The first admin from the browser: the one-time setup token works once, only before it expires,
// only while no admin exists, and a wrong one changes nothing.
import { describe, expect, it } from "vitest";
import {
  AlreadyExistsError,
  createFirstAdminSetup,
  NotFoundError,
  SETUP_TOKEN_TTL_MS,
  UnauthenticatedError,
} from "../src/index.ts";

function setup({ taken = new Set<string>() } = {}) {
  let now = Date.parse("2026-12-01T00:00:00Z");
  const admins: string[] = [];
  const audited: unknown[] = [];
  const firstAdmin = createFirstAdminSetup({
    accounts: { hasAdmin: async () => admins.length > 0 },
    auth: {
      createUser: async ({ email, role }) => {
        if (taken.has(email)) throw new AlreadyExistsError("an account with this email already exists");
        admins.push(email);
        return { id: `id-${email}`, email, name: null, role, createdAt: new Date(now) };
      },
      logIn: async ({ email }) => ({
        user: { id: `id-${email}`, email, name: null, role: "admin" as const, createdAt: new Date(now) },
        token: "session-token",
        expiresAt: new Date(now + 1000),
      }),
    },
    audit: async (action) => audited.push(action),
    clock: { now: () => new Date(now) },
  });
  return { firstAdmin, admins, audited, later: (ms: number) => (now += ms) };
}

const input = (token: string, email = "first@example.test") => ({ token, email, password: "long enough pass" });

describe("the first-admin setup", () => {
  it("makes one admin with the token, logs them in and audits it; then it is closed", async () => {
    const { firstAdmin, admins, audited } = setup();
    const token = (await firstAdmin.open()) ?? "";
    expect(token).toMatch(/^setup_[a-z2-7]{32}$/);
    expect(await firstAdmin.isOpen()).toBe(true);
    const session = await firstAdmin.createFirstAdmin(input(token));
    expect(session.user.role).toBe("admin");
    expect(admins).toEqual(["first@example.test"]);
    expect(audited).toMatchObject([{ action: "user.created", detail: { via: "setup", role: "admin" } }]);
    expect(await firstAdmin.isOpen()).toBe(false);
    await expect(firstAdmin.createFirstAdmin(input(token, "second@example.test"))).rejects.toThrow(NotFoundError);
    expect(admins).toHaveLength(1);
  });

  it("refuses a wrong token and stays open for the right one", async () => {
    const { firstAdmin, admins } = setup();
    const token = (await firstAdmin.open()) ?? "";
    const wrong = `${token.slice(0, -1)}${token.endsWith("a") ? "b" : "a"}`;
    await expect(firstAdmin.createFirstAdmin(input(wrong))).rejects.toThrow(UnauthenticatedError);
    await expect(firstAdmin.createFirstAdmin(input(""))).rejects.toThrow(UnauthenticatedError);
    expect(admins).toEqual([]);
    await firstAdmin.createFirstAdmin(input(token));
    expect(admins).toHaveLength(1);
  });

  it("expires", async () => {
    const { firstAdmin, later } = setup();
    const token = (await firstAdmin.open()) ?? "";
    later(SETUP_TOKEN_TTL_MS);
    expect(await firstAdmin.isOpen()).toBe(false);
    await expect(firstAdmin.createFirstAdmin(input(token))).rejects.toThrow(NotFoundError);
  });

  it("gives the token back when no account was made (an email already taken)", async () => {
    const { firstAdmin, admins } = setup({ taken: new Set(["taken@example.test"]) });
    const token = (await firstAdmin.open()) ?? "";
    await expect(firstAdmin.createFirstAdmin(input(token, "taken@example.test"))).rejects.toThrow(AlreadyExistsError);
    await firstAdmin.createFirstAdmin(input(token));
    expect(admins).toEqual(["first@example.test"]);
  });

  it("is closed from the start, and for good, once any admin exists (one made by the CLI meanwhile)", async () => {
    const { firstAdmin, admins } = setup();
    const token = (await firstAdmin.open()) ?? "";
    admins.push("cli@example.test");
    expect(await firstAdmin.isOpen()).toBe(false);
    await expect(firstAdmin.createFirstAdmin(input(token))).rejects.toThrow(NotFoundError);
    expect(await firstAdmin.open()).toBeNull();
  });

  it("has no token to use before one is opened", async () => {
    const { firstAdmin } = setup();
    expect(await firstAdmin.isOpen()).toBe(false);
    await expect(firstAdmin.createFirstAdmin(input("setup_x"))).rejects.toThrow(NotFoundError);
  });
});
