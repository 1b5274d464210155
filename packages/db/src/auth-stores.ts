import type { AccountStore, SessionStore, SessionUserRecord } from "@credits/core";
import { and, desc, eq, gt, isNull, sql } from "drizzle-orm";
import type { Database } from "./client.ts";
import { translatingErrors } from "./errors.ts";
import { prepared } from "./prepared.ts";
import { sessions, users } from "./schema.ts";

export { createApiKeyStore, createApiKeyUsageStore, createKeyCreditsStore } from "./api-key-store.ts";
export { createRateLimitStore } from "./rate-limit-store.ts";

// Explicit selects: a column added to these tables later does not leak into the domain. A session
// read brings its user along without the password hash (SessionUserRecord), which every request with a
// session cookie would otherwise carry out of the database.
export const sessionUserColumns = {
  id: users.id,
  email: users.email,
  name: users.name,
  role: users.role,
  erasedAt: users.erasedAt,
  createdAt: users.createdAt,
} satisfies Record<keyof SessionUserRecord, unknown>;

const userColumns = { ...sessionUserColumns, passwordHash: users.passwordHash };

export const sessionColumns = {
  id: sessions.id,
  userId: sessions.userId,
  expiresAt: sessions.expiresAt,
  createdAt: sessions.createdAt,
};

export function createAccountStore(db: Database): AccountStore {
  return translatingErrors({
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
    hasAdmin: async () => {
      const [row] = await db
        .select({ id: users.id })
        .from(users)
        .where(and(eq(users.role, "admin"), isNull(users.erasedAt)))
        .limit(1);
      return row !== undefined;
    },
  });
}

// Every request with a session cookie runs this.
const sessionQuery = prepared((db) =>
  db
    .select({ session: sessionColumns, user: sessionUserColumns })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.id, sql.placeholder("id")))
    .prepare("session_with_user"),
);

export function createSessionStore(db: Database): SessionStore {
  return translatingErrors({
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
  });
}
