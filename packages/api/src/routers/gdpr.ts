import { PASSWORD_LENGTH } from "@credits/core";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { consumeNoted } from "../rate-limit-headers.ts";
import { text } from "../schemas.ts";
import { StreamedJson, streamedJson } from "../streamed.ts";
import { authedProcedure, router } from "../trpc.ts";

const dated = z.iso.datetime();

// The export as the client receives it: written piece by piece (core/gdpr-export.ts), documented
// here. The ledger is in posting order (seq), payments newest first; refunds (of the user's
// payments, requests included) and auto top-up attempts oldest first. No provider ids: the saved
// card is only `cardSaved`. A payment carries its price (amountMinor), what was paid once credited
// (amountPaidMinor) and the session's discount and tax (amountDiscountMinor, amountTaxMinor: 0 for
// a purchase credited without a code or tax; null while it is not credited, or when it was credited
// before these were recorded, migration 0023).
const exportDocument = z.object({
  exportedAt: dated,
  profile: z.object({
    id: z.uuid(),
    email: z.string().nullable(),
    name: z.string().nullable(),
    role: z.string(),
    createdAt: dated,
  }),
  balance: z.number().int(),
  payments: z.array(z.record(z.string(), z.unknown())),
  refunds: z.array(z.record(z.string(), z.unknown())),
  ledger: z.array(z.record(z.string(), z.unknown())),
  holds: z.array(z.record(z.string(), z.unknown())),
  autoTopUpAttempts: z.array(z.record(z.string(), z.unknown())),
  sessions: z.array(z.object({ createdAt: dated, expiresAt: dated })),
  apiKeys: z.array(z.record(z.string(), z.unknown())),
  autoTopUp: z
    .object({
      enabled: z.boolean(),
      threshold: z.number().int(),
      packageId: z.uuid(),
      cardSaved: z.boolean(),
      consecutiveFailures: z.number().int(),
      disabledReason: z.string().nullable(),
      updatedAt: dated,
    })
    .nullable(),
});

export const gdprRouter = router({
  export: authedProcedure
    .meta({
      errors: ["RATE_LIMITED"],
      openapi: { method: "GET", path: "/gdpr/export", tags: ["gdpr"], summary: "Download my data" },
    })
    .input(z.void())
    .output(streamedJson(exportDocument))
    .query(async ({ ctx }) => {
      await consumeNoted(ctx.rateLimits, "export", () =>
        ctx.services.exportRateLimiter.consume(`export:${ctx.user.id}`),
      );
      const { chunks } = await ctx.services.gdpr.exportDocument(ctx.user.id);
      return new StreamedJson(chunks, "GET /api/v1/gdpr/export");
    }),

  // Step one of erasure: the password again, for a confirmation valid ten minutes in this session.
  confirmDeletion: authedProcedure
    .meta({
      errors: ["RATE_LIMITED"],
      openapi: {
        method: "POST",
        path: "/gdpr/delete/confirmation",
        tags: ["gdpr"],
        summary: "Confirm account deletion with the password",
      },
    })
    .input(z.strictObject({ password: z.string().min(1).max(PASSWORD_LENGTH.max) }))
    .output(z.object({ confirmationToken: z.string(), expiresAt: dated }))
    .mutation(async ({ ctx, input }) => {
      await consumeNoted(ctx.rateLimits, "reauth", () => ctx.services.authRateLimiter.consume(`reauth:${ctx.user.id}`));
      if (!ctx.sessionToken || !(await ctx.services.auth.verifyUserPassword(ctx.user.id, input.password))) {
        throw new TRPCError({ code: "UNAUTHORIZED", message: "the password is not correct" });
      }
      const { token, expiresAt } = ctx.services.gdpr.issueErasureToken(ctx.user.id, ctx.sessionToken);
      return { confirmationToken: token, expiresAt: expiresAt.toISOString() };
    }),

  delete: authedProcedure
    .meta({
      openapi: { method: "DELETE", path: "/gdpr/delete", tags: ["gdpr"], summary: "Erase my account" },
    })
    .input(z.strictObject({ confirmationToken: text({ max: 200, trim: false }) }))
    .output(z.object({ erasedAt: dated }))
    .mutation(async ({ ctx, input }) => {
      ctx.services.gdpr.assertErasureToken(ctx.user.id, ctx.sessionToken ?? "", input.confirmationToken);
      const result = await ctx.services.gdpr.erase({
        userId: ctx.user.id,
        actorId: ctx.user.id,
        requestId: ctx.requestId,
        reason: "erasure requested by the user",
      });
      ctx.cookies.clear();
      return { erasedAt: result.erasedAt.toISOString() };
    }),
});
