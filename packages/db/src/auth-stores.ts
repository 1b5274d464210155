import type { AccountStore, ApiKeyStore, SessionStore } from "@credits/core";
import { and, desc, eq, gt, isNull, lt, or, sql } from "drizzle-orm";
import type { Database } from "./client.ts";
import { pgError } from "./errors.ts";
import { prepared } from "./prepared.ts";
import { apiKeys, sessions, users } from "./schema.ts";

export { createRateLimitStore } from "./rate-limit-store.ts";

// Explicit selects: a column added to these tables later does not leak into the domain.
const userColumns = {
  id: users.id,
  email: users.email,
  name: users.name,
  role: users.role,
  passwordHash: users.passwordHash,
  erasedAt: users.erasedAt,
  createdAt: users.createdAt,
};

const sessionColumns = {
  id: sessions.id,
  userId: sessions.userId,
  expiresAt: sessions.expiresAt,
  createdAt: sessions.createdAt,
};

// Everything but the hash.
const apiKeyColumns = {
  id: apiKeys.id,
  name: apiKeys.name,
  prefix: apiKeys.prefix,
  scopes: apiKeys.scopes,
  ownerUserId: apiKeys.ownerUserId,
  createdAt: apiKeys.createdAt,
  lastUsedAt: apiKeys.lastUsedAt,
  revokedAt: apiKeys.revokedAt,
};

const timestamp = (value: Date) => sql`${value.toISOString()}::timestamptz`;

export function createAccountStore(db: Database): AccountStore {
  return {
    // ON CONFLICT rather than a prior read: the unique index decides between racing sign-ups.
    insertUser: async (user) => {
      const [row] = await db
        .insert(users)
        .values(user)
        .onConflictDoNothing({ target: users.email })
        .returning(userColumns);
      return row ?? null;
    },
    findUserByEmail: async (email) => {
      const [row] = await db.select(userColumns).from(users).where(eq(users.email, email));
      return row ?? null;
    },
    findUserById: async (id) => {
      const [row] = await db.select(userColumns).from(users).where(eq(users.id, id));
      return row ?? null;
    },
    replacePasswordHash: async (id, previous, next) => {
      await db
        .update(users)
        .set({ passwordHash: next })
        .where(and(eq(users.id, id), eq(users.passwordHash, previous)));
    },
  };
}

// Every request with a session cookie runs this.
const sessionQuery = prepared((db) =>
  db
    .select({ session: sessionColumns, user: userColumns })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.id, sql.placeholder("id")))
    .prepare("session_with_user"),
);

export function createSessionStore(db: Database): SessionStore {
  return {
    insertSession: async (session) => {
      await db.insert(sessions).values(session);
    },
    findSession: async (id) => {
      const [row] = await sessionQuery(db).execute({ id });
      return row ?? null;
    },
    updateSessionExpiry: async (id, expiresAt) => {
      await db.update(sessions).set({ expiresAt }).where(eq(sessions.id, id));
    },
    deleteSession: async (id) => {
      await db.delete(sessions).where(eq(sessions.id, id));
    },
    deleteUserSessions: async (userId) => {
      const deleted = await db.delete(sessions).where(eq(sessions.userId, userId)).returning({ id: sessions.id });
      return deleted.length;
    },
    listUserSessions: (userId, now, limit) =>
      db
        .select(sessionColumns)
        .from(sessions)
        .where(and(eq(sessions.userId, userId), gt(sessions.expiresAt, now)))
        .orderBy(desc(sessions.createdAt))
        .limit(limit),
  };
}

export function createApiKeyStore(db: Database): ApiKeyStore {
  return {
    insertApiKey: async (key) => {
      try {
        const [row] = await db.insert(apiKeys).values(key).returning(apiKeyColumns);
        return row ?? null;
      } catch (error) {
        // The only foreign key: the owner does not exist.
        if (pgError(error)?.code === "23503") return null;
        throw error;
      }
    },
    findApiKeyByHash: async (keyHash) => {
      const [row] = await db
        .select({ ...apiKeyColumns, ownerErasedAt: users.erasedAt })
        .from(apiKeys)
        .leftJoin(users, eq(users.id, apiKeys.ownerUserId))
        .where(eq(apiKeys.keyHash, keyHash));
      if (!row) return null;
      const { ownerErasedAt, ...key } = row;
      return { ...key, ownerErased: ownerErasedAt !== null };
    },
    touchApiKey: async (id, now, staleBefore) => {
      const touched = await db
        .update(apiKeys)
        .set({ lastUsedAt: now })
        .where(and(eq(apiKeys.id, id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, staleBefore))))
        .returning({ id: apiKeys.id });
      return touched.length > 0;
    },
    revokeApiKey: async (id, now) => {
      const [row] = await db
        .update(apiKeys)
        .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, ${timestamp(now)})` })
        .where(eq(apiKeys.id, id))
        .returning(apiKeyColumns);
      return row ?? null;
    },
    listApiKeys: ({ ownerUserId, limit }) =>
      db
        .select(apiKeyColumns)
        .from(apiKeys)
        .where(ownerUserId === undefined ? undefined : eq(apiKeys.ownerUserId, ownerUserId))
        .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
        .limit(limit),
  };
}

