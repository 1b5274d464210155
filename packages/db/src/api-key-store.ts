import type {
  ApiKeyAudit,
  ApiKeyRecord,
  ApiKeyStore,
  ApiKeyUsageStore,
  KeyCreditsStore,
  KeyUsage,
} from "@credits/core";
import { and, desc, eq, isNull, lt, or, sql } from "drizzle-orm";
import { createAdminStore } from "./admin-store.ts";
import { type Database, rowsOf } from "./client.ts";
import { translated, translatingErrors } from "./errors.ts";
import { createLedgerStore } from "./ledger-store.ts";
import { createOutboxStore } from "./outbox-store.ts";
import { adminActions, apiKeys, apiKeyUsage, users } from "./schema.ts";

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
  grantCreditsPerDay: apiKeys.grantCreditsPerDay,
  grantCallsPerDay: apiKeys.grantCallsPerDay,
  spendCreditsPerDay: apiKeys.spendCreditsPerDay,
  spendCallsPerDay: apiKeys.spendCallsPerDay,
};

interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  ownerUserId: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  grantCreditsPerDay: number | null;
  grantCallsPerDay: number | null;
  spendCreditsPerDay: number | null;
  spendCallsPerDay: number | null;
}

function toRecord(row: KeyRow, ownerEmail: string | null): ApiKeyRecord {
  const { grantCreditsPerDay, grantCallsPerDay, spendCreditsPerDay, spendCallsPerDay, ...key } = row;
  return {
    ...key,
    ownerEmail,
    limits: { grantCreditsPerDay, grantCallsPerDay, spendCreditsPerDay, spendCallsPerDay },
  };
}

const timestamp = (value: Date) => sql`${value.toISOString()}::timestamptz`;

// The audit facts of a key: never the key or its hash.
const keyDetail = (key: ApiKeyRecord, via: ApiKeyAudit["via"]) => ({
  name: key.name,
  scopes: key.scopes,
  prefix: key.prefix,
  limits: key.limits,
  ownerUserId: key.ownerUserId,
  via,
});

export function createApiKeyStore(db: Database): ApiKeyStore {
  return translatingErrors({
    insertApiKey: (key, audit) =>
      db.transaction(async (tx) => {
        // Locked, so the owner cannot be erased or demoted between this check and the insert.
        const [owner] = await tx
          .select({ role: users.role, erasedAt: users.erasedAt, email: users.email })
          .from(users)
          .where(eq(users.id, key.ownerUserId))
          .for("share");
        if (owner?.role !== "admin" || owner.erasedAt !== null) return null;
        const { limits, ...columns } = key;
        const [row] = await tx
          .insert(apiKeys)
          .values({ ...columns, ...limits })
          .returning(apiKeyColumns);
        if (!row) throw new Error("API key not inserted");
        const created = toRecord(row, owner.email);
        await tx.insert(adminActions).values({
          actorId: audit.actorId,
          action: "api_key.created",
          requestId: audit.requestId,
          apiKeyId: created.id,
          detail: keyDetail(created, audit.via),
        });
        return created;
      }),

    findApiKeyByHash: async (keyHash) => {
      const [row] = await db
        .select({ key: apiKeyColumns, ownerErasedAt: users.erasedAt, ownerRole: users.role, ownerEmail: users.email })
        .from(apiKeys)
        .leftJoin(users, eq(users.id, apiKeys.ownerUserId))
        .where(eq(apiKeys.keyHash, keyHash));
      if (!row) return null;
      return {
        ...toRecord(row.key, row.ownerEmail),
        ownerErased: row.ownerErasedAt !== null,
        ownerRole: row.ownerRole,
      };
    },

    touchApiKey: async (id, now, staleBefore) => {
      const touched = await db
        .update(apiKeys)
        .set({ lastUsedAt: now })
        .where(and(eq(apiKeys.id, id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, staleBefore))))
        .returning({ id: apiKeys.id });
      return touched.length > 0;
    },

    revokeApiKey: (id, now, audit) =>
      db.transaction(async (tx) => {
        const [fresh] = await tx
          .update(apiKeys)
          .set({ revokedAt: timestamp(now) })
          .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
          .returning(apiKeyColumns);
        const row = fresh ?? (await tx.select(apiKeyColumns).from(apiKeys).where(eq(apiKeys.id, id)))[0];
        if (!row) return null;
        const revoked = toRecord(row, null);
        if (fresh) {
          await tx.insert(adminActions).values({
            actorId: audit.actorId,
            action: "api_key.revoked",
            requestId: audit.requestId,
            apiKeyId: revoked.id,
            detail: keyDetail(revoked, audit.via),
          });
        }
        return revoked;
      }),

    listApiKeys: async ({ ownerUserId, limit }) => {
      const rows = await db
        .select({ key: apiKeyColumns, ownerEmail: users.email })
        .from(apiKeys)
        .leftJoin(users, eq(users.id, apiKeys.ownerUserId))
        .where(ownerUserId === undefined ? undefined : eq(apiKeys.ownerUserId, ownerUserId))
        .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
        .limit(limit);
      return rows.map((row) => toRecord(row.key, row.ownerEmail));
    },
  });
}

// Never above 2^31 - 1 calls or 2^53 credits: the limits are far below both.
export function createApiKeyUsageStore(db: Database): ApiKeyUsageStore {
  return translatingErrors({
    // One statement: concurrent uses serialize on the usage row, and each applies only if the
    // day's totals stay within the limits (an absent limit never refuses).
    count: async (usage: KeyUsage, limit) => {
      const maxCredits = limit.credits ?? Number.MAX_SAFE_INTEGER;
      const maxCalls = limit.calls ?? 2_147_483_647;
      if (usage.credits > maxCredits) return false;
      const result = await db.execute(sql`
        INSERT INTO ${apiKeyUsage} (api_key_id, day, operation, credits, calls)
        VALUES (${usage.apiKeyId}, ${usage.day}::date, ${usage.operation}, ${usage.credits}, 1)
        ON CONFLICT (api_key_id, day, operation) DO UPDATE SET
          credits = ${apiKeyUsage.credits} + excluded.credits,
          calls = ${apiKeyUsage.calls} + 1
        WHERE ${apiKeyUsage.credits} + excluded.credits <= ${maxCredits}
          AND ${apiKeyUsage.calls} + 1 <= ${maxCalls}
        RETURNING calls`);
      return rowsOf(result).length > 0;
    },
    uncount: async (usage: KeyUsage) => {
      await db
        .update(apiKeyUsage)
        .set({
          credits: sql`greatest(${apiKeyUsage.credits} - ${usage.credits}, 0)`,
          calls: sql`greatest(${apiKeyUsage.calls} - 1, 0)`,
        })
        .where(
          and(
            eq(apiKeyUsage.apiKeyId, usage.apiKeyId),
            eq(apiKeyUsage.day, usage.day),
            eq(apiKeyUsage.operation, usage.operation),
          ),
        );
    },
  });
}

// Grants through a key: the ledger, the audit and the key's usage in one transaction.
export function createKeyCreditsStore(db: Database): KeyCreditsStore {
  return translatingErrors({
    transaction: (work) =>
      translated(() =>
        db.transaction((tx) =>
          work({
            admin: createAdminStore(tx),
            ledger: createLedgerStore(tx, true),
            outbox: createOutboxStore(tx),
            usage: createApiKeyUsageStore(tx),
          }),
        ),
      ),
    usage: createApiKeyUsageStore(db),
    ledger: createLedgerStore(db),
  });
}
