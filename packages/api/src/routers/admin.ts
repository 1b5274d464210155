import type { AdjustmentRequest, AdminAction } from "@credits/core";
import {
  adjustmentStatuses,
  decodeTimeCursor,
  encodeTimeCursor,
  grantCategories,
  MAX_CREDITS_PER_OPERATION,
  MAX_PAGE_SIZE,
  termsOfRequest,
} from "@credits/core";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { cursor, grantTermsInput, idempotencyKey, reason, text, uuid } from "../schemas.ts";
import { adminProcedure, router } from "../trpc.ts";
import { apiKeyProcedures } from "./admin-api-keys.ts";
import { packageProcedures } from "./admin-packages.ts";
import { refundProcedures } from "./admin-refunds.ts";
import { userProcedures } from "./admin-users.ts";
import { webhookProcedures } from "./admin-webhooks.ts";

const iso = (date: Date | null) => date?.toISOString() ?? null;

const adjustmentRequestOutput = z.object({
  id: z.uuid(),
  requestedBy: z.uuid(),
  targetUserId: z.uuid(),
  amount: z.number().int(),
  reason: z.string(),
  status: z.enum(adjustmentStatuses),
  decidedBy: z.uuid().nullable(),
  decidedAt: z.iso.datetime().nullable(),
  expiresAt: z.iso.datetime(),
  // The terms the approval applies to the credit's grant (null for a debit).
  grant: z
    .object({ category: z.enum(grantCategories), priority: z.number().int(), expiresAt: z.iso.datetime().nullable() })
    .nullable(),
  createdAt: z.iso.datetime(),
});
const toRequest = (r: AdjustmentRequest): z.infer<typeof adjustmentRequestOutput> => ({
  id: r.id,
  requestedBy: r.requestedBy,
  targetUserId: r.targetUserId,
  amount: r.amount,
  reason: r.reason,
  status: r.status,
  decidedBy: r.decidedBy,
  decidedAt: iso(r.decidedAt),
  expiresAt: r.expiresAt.toISOString(),
  grant: grantOf(r),
  createdAt: r.createdAt.toISOString(),
});

function grantOf(r: AdjustmentRequest) {
  const terms = termsOfRequest(r);
  return terms ? { category: terms.category, priority: terms.priority, expiresAt: iso(terms.expiresAt) } : null;
}

const adjustOutput = z.object({
  status: z.enum(["applied", "pending"]),
  transactionId: z.uuid().nullable(),
  balance: z.number().int().nullable(),
  adjustmentRequest: adjustmentRequestOutput.nullable(),
});

const auditOutput = z.object({
  id: z.uuid(),
  actorId: z.uuid().nullable(),
  targetUserId: z.uuid().nullable(),
  action: z.string(),
  amount: z.number().int().nullable(),
  reason: z.string().nullable(),
  requestId: z.string().nullable(),
  balanceBefore: z.number().int().nullable(),
  balanceAfter: z.number().int().nullable(),
  adjustmentRequestId: z.uuid().nullable(),
  apiKeyId: z.uuid().nullable(),
  detail: z.record(z.string(), z.unknown()).nullable(),
  createdAt: z.iso.datetime(),
});
const toAudit = (a: AdminAction): z.infer<typeof auditOutput> => ({
  ...a,
  detail: (a.detail ?? null) as Record<string, unknown> | null,
  createdAt: a.createdAt.toISOString(),
});

// Audit cursor: the (createdAt, id) of the last row seen, in core's one cursor codec.
const encodeAuditCursor = (a: AdminAction) => encodeTimeCursor({ at: a.createdAt, id: a.id });
function decodeAuditCursor(raw: string) {
  const { at, id } = decodeTimeCursor(raw);
  return { createdAt: at, id };
}

export const adminRouter = router({
  ...apiKeyProcedures,
  ...refundProcedures,
  ...webhookProcedures,
  ...packageProcedures,
  ...userProcedures,
  adjust: adminProcedure
    .meta({
      errors: ["NOT_FOUND", "INSUFFICIENT_CREDITS", "IDEMPOTENCY_CONFLICT"],
      openapi: {
        method: "POST",
        path: "/admin/adjust",
        tags: ["admin"],
        summary: "Adjust a balance (above the threshold: an approval request)",
      },
    })
    .input(
      z.strictObject({
        userId: uuid,
        amount: z
          .number()
          .int()
          .min(-MAX_CREDITS_PER_OPERATION)
          .max(MAX_CREDITS_PER_OPERATION)
          .refine((n) => n !== 0, "amount must not be zero"),
        reason,
        idempotencyKey,
        ...grantTermsInput,
      }),
    )
    .output(adjustOutput)
    .mutation(async ({ ctx, input: { category, priority, expiresAt, ...input } }) => {
      const result = await ctx.services.admin.adjust({
        ...input,
        terms: { category, priority, expiresAt },
        actorId: ctx.user.id,
        requestId: ctx.requestId,
      });
      return result.status === "applied"
        ? {
            status: "applied" as const,
            transactionId: result.transactionId,
            balance: result.balance,
            adjustmentRequest: null,
          }
        : {
            status: "pending" as const,
            transactionId: null,
            balance: null,
            adjustmentRequest: toRequest(result.adjustmentRequest),
          };
    }),

  approvals: adminProcedure
    .meta({ openapi: { method: "GET", path: "/admin/adjustments", tags: ["admin"], summary: "Pending approvals" } })
    .input(z.void())
    .output(z.object({ adjustments: z.array(adjustmentRequestOutput) }))
    .query(async ({ ctx }) => ({ adjustments: (await ctx.services.admin.pendingApprovals()).map(toRequest) })),

  approve: adminProcedure
    .meta({
      errors: ["NOT_FOUND", "INVALID_STATE", "INSUFFICIENT_CREDITS"],
      openapi: {
        method: "POST",
        path: "/admin/adjustments/{id}/approve",
        tags: ["admin"],
        summary: "Approve another admin's adjustment",
      },
    })
    .input(z.strictObject({ id: uuid }))
    .output(adjustOutput)
    .mutation(async ({ ctx, input }) => {
      const result = await ctx.services.admin.approve({
        adjustmentRequestId: input.id,
        actorId: ctx.user.id,
        requestId: ctx.requestId,
      });
      if (result.status !== "applied") throw new TRPCError({ code: "INTERNAL_SERVER_ERROR" });
      return {
        status: "applied" as const,
        transactionId: result.transactionId,
        balance: result.balance,
        adjustmentRequest: null,
      };
    }),

  reject: adminProcedure
    .meta({
      errors: ["NOT_FOUND", "INVALID_STATE"],
      openapi: {
        method: "POST",
        path: "/admin/adjustments/{id}/reject",
        tags: ["admin"],
        summary: "Reject another admin's adjustment",
      },
    })
    .input(z.strictObject({ id: uuid }))
    .output(adjustmentRequestOutput)
    .mutation(async ({ ctx, input }) =>
      toRequest(
        await ctx.services.admin.reject({
          adjustmentRequestId: input.id,
          actorId: ctx.user.id,
          requestId: ctx.requestId,
        }),
      ),
    ),

  audit: adminProcedure
    .meta({ openapi: { method: "GET", path: "/admin/audit", tags: ["admin"], summary: "The audit log" } })
    .input(
      z.strictObject({
        actorId: uuid.optional(),
        targetUserId: uuid.optional(),
        action: text({ max: 64 }).optional(),
        from: z.iso.datetime({ offset: true }).optional(),
        to: z.iso.datetime({ offset: true }).optional(),
        cursor: cursor.optional(),
        limit: z.number().int().min(1).max(MAX_PAGE_SIZE).optional(),
      }),
    )
    .output(z.object({ actions: z.array(auditOutput), nextCursor: z.string().nullable() }))
    .query(async ({ ctx, input }) => {
      const limit = input.limit ?? 50;
      const rows = await ctx.services.admin.auditLog({
        ...(input.actorId ? { actorId: input.actorId } : {}),
        ...(input.targetUserId ? { targetUserId: input.targetUserId } : {}),
        ...(input.action ? { action: input.action } : {}),
        ...(input.from ? { from: new Date(input.from) } : {}),
        ...(input.to ? { to: new Date(input.to) } : {}),
        ...(input.cursor ? { before: decodeAuditCursor(input.cursor) } : {}),
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return { actions: page.map(toAudit), nextCursor: rows.length > limit && last ? encodeAuditCursor(last) : null };
    }),

  dailyStats: adminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/admin/stats/daily",
        tags: ["admin"],
        summary: "Daily totals for charts",
        description:
          "Per UTC day: credits purchased, spent, adjusted and clawed back, and revenue per currency by purchase " +
          "day (ADR 012): a refund or dispute changes the day its payment was credited, not the day it happened, " +
          "so a past day's revenue can still change.",
      },
    })
    .input(z.strictObject({ from: z.iso.date(), to: z.iso.date() }))
    .output(
      z.object({
        days: z.array(
          z.object({
            day: z.string(),
            purchased: z.number().int(),
            spent: z.number().int(),
            adjusted: z.number().int(),
            clawedBack: z.number().int(),
            revenueMinor: z
              .record(z.string(), z.number().int())
              .describe(
                "Revenue in minor units per currency, by purchase day: what the payments credited that day paid, " +
                  "less tax, refunds and open or lost disputes, whenever those happened",
              ),
          }),
        ),
      }),
    )
    .query(async ({ ctx, input }) => ({
      days: await ctx.services.admin.dailyTotals(
        new Date(`${input.from}T00:00:00Z`),
        new Date(`${input.to}T00:00:00Z`),
      ),
    })),
});
