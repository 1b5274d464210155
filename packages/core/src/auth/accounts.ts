import { hash as hashOnce, randomBytes } from "node:crypto";
import { encodeBase32LowerCaseNoPadding } from "@oslojs/encoding";
import { type Clock, systemClock } from "../clock.ts";
import { AlreadyExistsError, InvalidInputError, RateLimitedError, UnauthenticatedError } from "../errors.ts";
import { MAX_EMAIL_LENGTH, MAX_NAME_LENGTH, PASSWORD_LENGTH } from "../limits.ts";
import { assertText, isStorableText, isUuid } from "../validate.ts";
import { createPasswordHasher, type PasswordHasher } from "./passwords.ts";
import type { AccountStore, FoundSession, SessionRecord, SessionStore, SessionUserRecord, UserRole } from "./ports.ts";
import { userRoles } from "./ports.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
export const SESSION_TTL_MS = 30 * DAY_MS;
// A session used with less than this left is extended to a full TTL again (Lucia's sliding expiry).
export const SESSION_RENEW_BEFORE_MS = 15 * DAY_MS;
const MAX_LISTED_SESSIONS = 100;
// Long enough to tell sessions apart in a list, far too short to be worth anything to an attacker.
const SESSION_REFERENCE_LENGTH = 12;
// 20 random bytes in base32 (no padding) is exactly 32 characters of [a-z2-7].
const SESSION_TOKEN_PATTERN = /^[a-z2-7]{32}$/;

export interface PublicUser {
  id: string;
  email: string;
  name: string | null;
  role: UserRole;
  createdAt: Date;
}

export interface SessionInfo {
  // A short reference to the session, not the token and not the full stored id.
  id: string;
  createdAt: Date;
  expiresAt: Date;
}

// The token goes to the client once (in a cookie) and is never stored.
export interface NewSession {
  user: PublicUser;
  token: string;
  expiresAt: Date;
}

export interface ValidSession {
  user: PublicUser;
  session: SessionInfo & { userId: string };
  // True when the expiry moved: the caller should send the cookie again with the new expiry.
  refreshed: boolean;
}

export type AuthService = ReturnType<typeof createAuthService>;

export function createAuthService({
  accounts,
  sessions,
  clock = systemClock,
  hasher = createPasswordHasher(),
}: {
  accounts: AccountStore;
  sessions: SessionStore;
  clock?: Clock;
  // argon2id at OWASP's parameters by default; tests of the hashing queue pass their own.
  hasher?: PasswordHasher;
}) {
  // A real hash of a random password with the current parameters, so a log-in for an unknown
  // account costs the same verification as one for a real account. Computed now rather than on
  // the first unknown-account log-in, which would otherwise be slower.
  let dummy: Promise<string> | undefined;
  const dummyHash = () => {
    dummy ??= hasher.hash(randomBytes(16).toString("hex")).catch((error: unknown) => {
      dummy = undefined;
      throw error;
    });
    return dummy;
  };
  dummyHash().catch(() => {});

  async function register(input: { email: string; password: string; name?: string | null; role: UserRole }) {
    const email = normalizeEmail(input.email);
    assertPassword(input.password);
    const name = normalizeName(input.name);
    if (!userRoles.includes(input.role)) throw new InvalidInputError("role must be user or admin");
    const passwordHash = await hasher.hash(input.password);
    const created = await accounts.insertUser({ email, name, passwordHash, role: input.role });
    if (!created) throw new AlreadyExistsError("an account with this email already exists");
    return toPublicUser(created);
  }

  async function startSession(user: PublicUser): Promise<NewSession> {
    const token = generateSessionToken();
    const now = clock.now();
    const expiresAt = new Date(now.getTime() + SESSION_TTL_MS);
    await sessions.insertSession({ id: sessionIdOf(token), userId: user.id, expiresAt, createdAt: now });
    return { user, token, expiresAt };
  }

  // Signs the user up and logs them in.
  async function signUp(input: { email: string; password: string; name?: string | null }): Promise<NewSession> {
    return startSession(await register({ ...input, role: "user" }));
  }

  // Every failure answers the same error after the same work, so neither the message nor the
  // timing tells whether an account exists.
  async function logIn(input: { email: string; password: string }): Promise<NewSession> {
    const invalid = new UnauthenticatedError("invalid email or password");
    if (input.password.length > PASSWORD_LENGTH.max) throw invalid;
    const email = input.email.trim().toLowerCase();
    const user = email.length <= MAX_EMAIL_LENGTH ? await accounts.findUserByEmail(email) : null;
    const hash = user && isUsable(user) ? user.passwordHash : null;
    const matches = await hasher.verify(input.password, hash ?? (await dummyHash()));
    if (!user || !hash || !matches) throw invalid;
    if (hasher.needsRehash(hash)) await upgradeHash(user.id, hash, input.password);
    return startSession(toPublicUser(user));
  }

  // An older hash (scrypt, or weaker argon2id parameters) is replaced while the password is at
  // hand. Best effort: with the hasher busy the log-in still succeeds, and the next one retries.
  async function upgradeHash(userId: string, previous: string, password: string): Promise<void> {
    try {
      await accounts.replacePasswordHash(userId, previous, await hasher.hash(password));
    } catch (error) {
      if (!(error instanceof RateLimitedError)) throw error;
    }
  }

  const validateSessionWith = sessionValidator(sessions, clock);
  const validateSession = async (token: string): Promise<ValidSession | null> =>
    (await validateSessionWith(token, (id) => sessions.findSession(id)))?.valid ?? null;

  async function logOut(token: string): Promise<void> {
    if (SESSION_TOKEN_PATTERN.test(token)) await sessions.deleteSession(sessionIdOf(token));
  }

  async function listSessions(userId: string): Promise<SessionInfo[]> {
    if (!isUuid(userId)) return [];
    const rows = await sessions.listUserSessions(userId, clock.now(), MAX_LISTED_SESSIONS);
    return rows.map(toSessionInfo);
  }

  return {
    signUp,
    logIn,
    validateSession,
    validateSessionWith,
    logOut,
    // Ends every session of the user: log-out of all devices, password change, erasure.
    logOutEverywhere: async (userId: string): Promise<number> =>
      isUuid(userId) ? sessions.deleteUserSessions(userId) : 0,
    listSessions,
    // For the CLI: creates an account (admins included) without logging in.
    createUser: (input: { email: string; password: string; name?: string | null; role: UserRole }) => register(input),
    // Password re-entry before a sensitive action (erasure): true only for the user's own password.
    verifyUserPassword: async (userId: string, password: string): Promise<boolean> => {
      const user = isUuid(userId) ? await accounts.findUserById(userId) : null;
      const hash = user && isUsable(user) ? user.passwordHash : null;
      const matches = await hasher.verify(password.slice(0, PASSWORD_LENGTH.max), hash ?? (await dummyHash()));
      return hash !== null && matches;
    },
    getUser: async (userId: string): Promise<PublicUser | null> => {
      const user = isUuid(userId) ? await accounts.findUserById(userId) : null;
      return user && isUsable(user) ? toPublicUser(user) : null;
    },
  };
}

// 160 bits of randomness, as Lucia's guide recommends; base32 keeps it cookie- and URL-safe.
export function generateSessionToken(): string {
  return encodeBase32LowerCaseNoPadding(randomBytes(20));
}

// The stored session id. A leaked sessions table therefore holds no usable token.
export function sessionIdOf(token: string): string {
  // Node's one-shot SHA-256: every request with a credential hashes it; ~1.5 µs against ~4 µs
  // for the JS one or for createHash (a hash object per call). The same digest: stored hashes
  // stay valid.
  return hashOnce("sha256", token, "hex");
}

export function normalizeEmail(raw: string): string {
  const email = raw.trim().toLowerCase();
  const storable = isStorableText(email, { maxLength: MAX_EMAIL_LENGTH });
  if (!storable || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
    throw new InvalidInputError("a valid email address is required");
  }
  return email;
}

function assertPassword(password: string): void {
  if (password.length < PASSWORD_LENGTH.min || password.length > PASSWORD_LENGTH.max) {
    throw new InvalidInputError(`password must be ${PASSWORD_LENGTH.min} to ${PASSWORD_LENGTH.max} characters`);
  }
}

function normalizeName(raw: string | null | undefined): string | null {
  const name = raw?.trim() ?? "";
  assertText(name, "name", { maxLength: MAX_NAME_LENGTH });
  return name === "" ? null : name;
}

// validateSession with the session found by `find` (by its stored id): a read that brings the
// session and its user along with what it reads, in one statement. `found` (the read too) is
// returned only when the session is valid.
function sessionValidator(sessions: SessionStore, clock: Clock) {
  return async function validateSessionWith<T extends FoundSession>(
    token: string,
    find: (sessionId: string) => Promise<T | null>,
  ): Promise<{ valid: ValidSession; found: T } | null> {
    if (!SESSION_TOKEN_PATTERN.test(token)) return null;
    const id = sessionIdOf(token);
    const found = await find(id);
    if (!found) return null;
    const { session, user } = found;
    const now = clock.now();
    if (session.expiresAt.getTime() <= now.getTime() || !isUsable(user)) {
      await sessions.deleteSession(id);
      return null;
    }
    let expiresAt = session.expiresAt;
    const refreshed = expiresAt.getTime() - now.getTime() < SESSION_RENEW_BEFORE_MS;
    if (refreshed) {
      expiresAt = new Date(now.getTime() + SESSION_TTL_MS);
      await sessions.updateSessionExpiry(id, expiresAt);
    }
    const valid = {
      user: toPublicUser(user),
      session: { ...toSessionInfo({ ...session, expiresAt }), userId: session.userId },
      refreshed,
    };
    return { valid, found };
  };
}

// An erased user keeps the row (the ledger points at it) but can never authenticate again.
function isUsable<U extends SessionUserRecord>(user: U): user is U & { email: string } {
  return user.erasedAt === null && user.email !== null;
}

function toPublicUser(user: SessionUserRecord): PublicUser {
  if (user.email === null) throw new Error(`user ${user.id} has no email`);
  return { id: user.id, email: user.email, name: user.name, role: user.role, createdAt: user.createdAt };
}

function toSessionInfo(session: SessionRecord): SessionInfo {
  return {
    id: session.id.slice(0, SESSION_REFERENCE_LENGTH),
    createdAt: session.createdAt,
    expiresAt: session.expiresAt,
  };
}
