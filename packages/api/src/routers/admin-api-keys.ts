import { MAX_API_KEY_CALLS_PER_DAY, MAX_API_KEY_CREDITS_PER_DAY, MAX_API_KEY_NAME_LENGTH } from "@credits/core";
import { z } from "zod";
import { apiKeyScope, text, uuid } from "../schemas.ts";
import { adminProcedure } from "../trpc.ts";

const perDay = (max: number) => z.number().int().min(1).max(max);
// Each absent (or null) limit is no limit. Per UTC day.
const limitsShape = {
  grantCreditsPerDay: perDay(MAX_API_KEY_CREDITS_PER_DAY).nullable(),
  grantCallsPerDay: perDay(MAX_API_KEY_CALLS_PER_DAY).nullable(),
  spendCreditsPerDay: perDay(MAX_API_KEY_CREDITS_PER_DAY).nullable(),
  spendCallsPerDay: perDay(MAX_API_KEY_CALLS_PER_DAY).nullable(),
};
const limitsInput = z.strictObject({
  grantCreditsPerDay: limitsShape.grantCreditsPerDay.optional(),
  grantCallsPerDay: limitsShape.grantCallsPerDay.optional(),
  spendCreditsPerDay: limitsShape.spendCreditsPerDay.optional(),
  spendCallsPerDay: limitsShape.spendCallsPerDay.optional(),
});

const apiKeyInfo = z.object({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(apiKeyScope),
  // The admin who made it and answers for it (null: made before keys had owners; it is refused).
  owner: z.object({ id: z.uuid(), email: z.string().nullable() }).nullable(),
  limits: z.object(limitsShape),
  createdAt: z.iso.datetime(),
  lastUsedAt: z.iso.datetime().nullable(),
  revokedAt: z.iso.datetime().nullable(),
});

const iso = (date: Date | null) => date?.toISOString() ?? null;

// API keys for internal tools, managed by admins (the CLI has the same commands).
export const apiKeyProcedures = {
  createApiKey: adminProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/admin/api-keys",
        tags: ["admin"],
        summary: "Create an API key (the key is shown once)",
      },
    })
    .input(
      z.strictObject({
        name: text({ max: MAX_API_KEY_NAME_LENGTH }),
        scopes: z.array(apiKeyScope).min(1).max(apiKeyScope.options.length),
        limits: limitsInput.optional(),
      }),
    )
    .output(
      z.object({ id: z.uuid(), name: z.string(), prefix: z.string(), scopes: z.array(apiKeyScope), key: z.string() }),
    )
    .mutation(async ({ ctx, input }) => {
      const created = await ctx.services.apiKeys.create(
        { ...input, ownerUserId: ctx.user.id },
        { requestId: ctx.requestId, via: "api" },
      );
      return { id: created.id, name: created.name, prefix: created.prefix, scopes: created.scopes, key: created.key };
    }),

  listApiKeys: adminProcedure
    .meta({ openapi: { method: "GET", path: "/admin/api-keys", tags: ["admin"], summary: "API keys" } })
    .input(z.void())
    .output(z.object({ apiKeys: z.array(apiKeyInfo) }))
    .query(async ({ ctx }) => ({
      apiKeys: (await ctx.services.apiKeys.list()).map((key) => ({
        id: key.id,
        name: key.name,
        prefix: key.prefix,
        scopes: key.scopes,
        owner: key.ownerUserId ? { id: key.ownerUserId, email: key.ownerEmail } : null,
        limits: key.limits,
        createdAt: key.createdAt.toISOString(),
        lastUsedAt: iso(key.lastUsedAt),
        revokedAt: iso(key.revokedAt),
      })),
    })),

  revokeApiKey: adminProcedure
    .meta({
      errors: ["NOT_FOUND"],
      openapi: { method: "POST", path: "/admin/api-keys/{id}/revoke", tags: ["admin"], summary: "Revoke an API key" },
    })
    .input(z.strictObject({ id: uuid }))
    .output(z.object({ id: z.uuid(), revokedAt: z.iso.datetime() }))
    .mutation(async ({ ctx, input }) => {
      const revoked = await ctx.services.apiKeys.revoke(input.id, {
        actorId: ctx.user.id,
        requestId: ctx.requestId,
        via: "api",
      });
      return { id: revoked.id, revokedAt: iso(revoked.revokedAt) ?? new Date().toISOString() };
    }),
};
