import type { ApiKeyLimits } from "./api-key-limits.ts";

// The storage the auth services need. Implemented in packages/db; plain domain shapes only, so no
// driver or ORM row type reaches the core.

export const userRoles = ["user", "admin"] as const;
export type UserRole = (typeof userRoles)[number];

// A user as the auth code needs it. Holds the password hash: never returned past the services.
export interface UserRecord {
  id: string;
  // NULL once the user is erased.
  email: string | null;
  name: string | null;
  role: UserRole;
  passwordHash: string | null;
  erasedAt: Date | null;
  createdAt: Date;
}

export interface NewUser {
  email: string;
  name: string | null;
  passwordHash: string;
  role: UserRole;
}

export interface AccountStore {
  // Inserts the user, or returns null when the email is taken. The unique constraint decides, so
  // two racing sign-ups with one email cannot both succeed.
  insertUser(user: NewUser): Promise<UserRecord | null>;
  findUserByEmail(email: string): Promise<UserRecord | null>;
  findUserById(id: string): Promise<UserRecord | null>;
  // Replaces the password hash only if it is still `previous` (a rehash with newer parameters
  // must not undo a password change made meanwhile).
  replacePasswordHash(id: string, previous: string, next: string): Promise<void>;
  // Whether anyone (not erased) holds the admin role: until then the first one can be made at /setup.
  hasAdmin(): Promise<boolean>;
}

export interface SessionRecord {
  // SHA-256 (hex) of the token; the token itself is never stored.
  id: string;
  userId: string;
  expiresAt: Date;
  createdAt: Date;
}

// A user as a session needs it: without the password hash, which validating a session never reads.
export type SessionUserRecord = Omit<UserRecord, "passwordHash">;

// A session with its user, as found by one statement (findSession, or a read that brings them along).
export interface FoundSession {
  session: SessionRecord;
  user: SessionUserRecord;
}

export interface SessionStore {
  insertSession(session: SessionRecord): Promise<void>;
  // The session with its user in one round trip: validating runs on every request.
  findSession(id: string): Promise<FoundSession | null>;
  updateSessionExpiry(id: string, expiresAt: Date): Promise<void>;
  deleteSession(id: string): Promise<void>;
  // Returns how many sessions were deleted.
  deleteUserSessions(userId: string): Promise<number>;
  // Sessions still valid at `now`, newest first.
  listUserSessions(userId: string, now: Date, limit: number): Promise<SessionRecord[]>;
}

// An API key without its hash: the only shape that leaves the store.
export interface ApiKeyRecord {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  // The admin who made it; NULL only for keys made before keys had owners (refused at use).
  ownerUserId: string | null;
  ownerEmail: string | null;
  limits: ApiKeyLimits;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface NewApiKey {
  id: string;
  name: string;
  prefix: string;
  keyHash: string;
  scopes: string[];
  ownerUserId: string;
  limits: ApiKeyLimits;
  createdAt: Date;
}

// Who made or revoked a key, for its audit row (never the key or its hash).
export interface ApiKeyAudit {
  // Null: the system or the CLI without a named admin.
  actorId: string | null;
  requestId: string | null;
  via: "api" | "cli";
}

export interface ApiKeyStore {
  // Inserts the key and its audit row (`api_key.created`, actor the owner) in one transaction;
  // null (and nothing written) unless ownerUserId names a live admin.
  insertApiKey(key: NewApiKey, audit: ApiKeyAudit): Promise<ApiKeyRecord | null>;
  // The owner's state decides whether the key works: erased, or no longer an admin, it does not.
  findApiKeyByHash(
    keyHash: string,
  ): Promise<(ApiKeyRecord & { ownerErased: boolean; ownerRole: UserRole | null }) | null>;
  // Sets last_used_at = now only when it is NULL or before staleBefore, in one conditional
  // statement; true when it wrote.
  touchApiKey(id: string, now: Date, staleBefore: Date): Promise<boolean>;
  // Sets revoked_at unless already set, with an `api_key.revoked` audit row when it was not (one
  // transaction); null when the id names no key.
  revokeApiKey(id: string, now: Date, audit: ApiKeyAudit): Promise<ApiKeyRecord | null>;
  // Newest first.
  listApiKeys(query: { ownerUserId?: string; limit: number }): Promise<ApiKeyRecord[]>;
}

// Keys may hold an email or an address: a store keeps only a keyed hash of each.
export interface RateLimitStore {
  // Counts one hit on `key` in one atomic statement: starts a new window ending at `expiresAt`
  // (count 1) when there is none or the current one has ended by `now`, otherwise adds one.
  // Returns the count and end of the window the hit landed in.
  hit(key: string, now: Date, expiresAt: Date): Promise<{ count: number; expiresAt: Date }>;
  // Takes one hit back from the window ending at `expiresAt`, if it is still the key's window.
  refund(key: string, expiresAt: Date): Promise<void>;
  // Deletes up to `limit` windows ended by `now`; returns how many.
  purgeExpired(now: Date, limit: number): Promise<number>;
}
