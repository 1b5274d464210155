import { randomBytes, timingSafeEqual } from "node:crypto";
import { sha256 } from "@oslojs/crypto/sha2";
import { encodeBase32LowerCaseNoPadding } from "@oslojs/encoding";
import { type NewAdminAction, userCreatedAction } from "../admin/store.ts";
import { type Clock, systemClock } from "../clock.ts";
import { NotFoundError, UnauthenticatedError } from "../errors.ts";
import type { AuthService, NewSession } from "./accounts.ts";
import type { AccountStore } from "./ports.ts";

// The first admin, made from the browser on an empty database: at start the server asks for a
// one-time setup token and prints it once in its log; whoever reads the log opens /setup with it.
// Only its SHA-256 is kept, in this process's memory: it ends with the process, after
// SETUP_TOKEN_TTL_MS, or at its first successful use, and it is never stored or printed again.
export const SETUP_TOKEN_TTL_MS = 60 * 60_000;
// The prefix tells it apart from a session token in a log line (and in the log scan).
const PREFIX = "setup_";

export type FirstAdminSetup = ReturnType<typeof createFirstAdminSetup>;

export function createFirstAdminSetup({
  accounts,
  auth,
  audit,
  clock = systemClock,
  ttlMs = SETUP_TOKEN_TTL_MS,
}: {
  accounts: Pick<AccountStore, "hasAdmin">;
  auth: Pick<AuthService, "createUser" | "logIn">;
  // The audit row of the new account (userCreatedAction, as the CLI writes it).
  audit: (action: NewAdminAction) => Promise<unknown>;
  clock?: Clock;
  ttlMs?: number;
}) {
  let pending: { hash: Uint8Array; expiresAtMs: number } | null = null;

  const live = () => (pending && clock.now().getTime() < pending.expiresAtMs ? pending : null);

  return {
    // A new token when no admin exists (the caller prints it, once), or null.
    async open(): Promise<string | null> {
      if (await accounts.hasAdmin()) return null;
      const token = `${PREFIX}${encodeBase32LowerCaseNoPadding(randomBytes(20))}`;
      pending = { hash: digest(token), expiresAtMs: clock.now().getTime() + ttlMs };
      return token;
    },

    // Whether the setup page is there: a token waits, unexpired, and still no one is admin.
    async isOpen(): Promise<boolean> {
      return live() !== null && !(await accounts.hasAdmin());
    },

    // Makes the first admin and logs them in. The token is taken before any other await, so two
    // requests racing with it cannot both use it; it is given back only when no account was made
    // (an email already taken), so a typo does not need a restart.
    async createFirstAdmin(input: {
      token: string;
      email: string;
      password: string;
      name?: string | null;
    }): Promise<NewSession> {
      const adminExists = await accounts.hasAdmin();
      const current = live();
      if (adminExists || !current) {
        pending = null;
        throw new NotFoundError("setup");
      }
      if (!timingSafeEqual(digest(input.token), current.hash)) throw new UnauthenticatedError("wrong setup token");
      pending = null;
      let user: Awaited<ReturnType<AuthService["createUser"]>>;
      try {
        user = await auth.createUser({ email: input.email, password: input.password, name: input.name, role: "admin" });
      } catch (error) {
        pending ??= current;
        throw error;
      }
      await audit(userCreatedAction(user, "setup", user.id));
      return auth.logIn({ email: input.email, password: input.password });
    },
  };
}

// Fixed-length digests, so the comparison takes the same time whatever was sent.
const digest = (token: string) => sha256(new TextEncoder().encode(token));
