import type { Hold, LedgerStore } from "@credits/core";
import { and, asc, desc, eq, inArray, lte, sql } from "drizzle-orm";
import type { Database } from "./client.ts";
import { holds, users } from "./schema.ts";

type HoldMethods =
  | "insertHold"
  | "findHold"
  | "findHoldByKey"
  | "listHolds"
  | "settleHold"
  | "lockOpenHolds"
  | "clawBackHold"
  | "lockExpiredHolds";

// The ledger store's holds: credits reserved before a capture, a release or their expiry.
export function holdMethods(db: Database): Pick<LedgerStore, HoldMethods> {
  return {
    insertHold: async (hold) => {
      const [row] = await db
        .insert(holds)
        .values(hold)
        .onConflictDoNothing({ target: holds.idempotencyKey })
        .returning();
      return row ?? null;
    },

    findHold: async (id) => {
      const [row] = await db.select().from(holds).where(eq(holds.id, id));
      return row ?? null;
    },

    findHoldByKey: async (key) => {
      const [row] = await db.select().from(holds).where(eq(holds.idempotencyKey, key));
      return row ?? null;
    },

    listHolds: (userId, limit) =>
      db.select().from(holds).where(eq(holds.userId, userId)).orderBy(desc(holds.createdAt)).limit(limit),

    settleHold: async (id, { status, capturedAmount, now }) => {
      // A capture needs a live hold; a release or an expiry returns the credits either way.
      const timing = status === "captured" ? sql`${holds.expiresAt} > ${now.toISOString()}::timestamptz` : undefined;
      const expiryDue = status === "expired" ? lte(holds.expiresAt, now) : undefined;
      const [row] = await db
        .update(holds)
        .set({ status, capturedAmount, settledAt: now })
        .where(and(eq(holds.id, id), eq(holds.status, "open"), timing, expiryDue))
        .returning();
      return (row as Hold | undefined) ?? null;
    },

    lockOpenHolds: (userId, limit) =>
      db
        .select()
        .from(holds)
        .where(and(eq(holds.userId, userId), eq(holds.status, "open")))
        .orderBy(asc(holds.createdAt), asc(holds.id))
        .limit(limit)
        .for("update"),

    clawBackHold: async (id, amount, now) => {
      // A hold left with nothing to capture or return is settled as released.
      const emptied = sql`coalesce(${holds.capturedAmount}, 0) + ${holds.clawedBack} + ${amount} = ${holds.amount}`;
      const [row] = await db
        .update(holds)
        .set({
          clawedBack: sql`${holds.clawedBack} + ${amount}`,
          status: sql`CASE WHEN ${emptied} THEN 'released'::hold_status ELSE ${holds.status} END`,
          settledAt: sql`CASE WHEN ${emptied} THEN ${now.toISOString()}::timestamptz ELSE ${holds.settledAt} END`,
        })
        .where(
          and(
            eq(holds.id, id),
            eq(holds.status, "open"),
            sql`coalesce(${holds.capturedAmount}, 0) + ${holds.clawedBack} + ${amount} <= ${holds.amount}`,
          ),
        )
        .returning();
      return row ?? null;
    },

    // The users of due holds are locked first, in id order (the lock order of every posting: the
    // balance row, then holds), so two sweepers, or a sweeper and a clawback, never deadlock; a
    // hold another sweeper settled meanwhile is no longer open and is not returned.
    lockExpiredHolds: async (now, limit) => {
      const due = db
        .selectDistinct({ userId: holds.userId })
        .from(holds)
        .where(and(eq(holds.status, "open"), lte(holds.expiresAt, now)))
        .orderBy(holds.userId)
        .limit(limit);
      const owners = await db
        .select({ id: users.id })
        .from(users)
        .where(inArray(users.id, due))
        .orderBy(asc(users.id))
        .for("update");
      if (owners.length === 0) return [];
      return db
        .select()
        .from(holds)
        .where(
          and(
            eq(holds.status, "open"),
            lte(holds.expiresAt, now),
            inArray(
              holds.userId,
              owners.map((owner) => owner.id),
            ),
          ),
        )
        .orderBy(asc(holds.expiresAt))
        .for("update");
    },
  };
}
