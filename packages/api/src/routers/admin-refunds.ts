import { MAX_REFUND_MINOR, type Refund, refundStatuses } from "@credits/core";
import { z } from "zod";
import { idempotencyKey, reason, uuid } from "../schemas.ts";
import { adminProcedure } from "../trpc.ts";

const iso = (date: Date | null) => date?.toISOString() ?? null;

export const refundOutput = z.object({
  id: z.uuid(),
  paymentId: z.uuid(),
  userId: z.uuid(),
  // Minor units of the payment's currency.
  amount: z.number().int(),
  currency: z.string(),
  reason: z.string(),
  // pending: waits for a second admin; processing: sent to the provider, no answer yet.
  status: z.enum(refundStatuses),
  requestedBy: z.uuid(),
  decidedBy: z.uuid().nullable(),
  decidedAt: z.iso.datetime().nullable(),
  expiresAt: z.iso.datetime(),
  providerRefundId: z.string().nullable(),
  failureReason: z.string().nullable(),
  createdAt: z.iso.datetime(),
});

export const toRefund = (r: Refund): z.infer<typeof refundOutput> => ({
  id: r.id,
  paymentId: r.paymentId,
  userId: r.userId,
  amount: r.amountMinor,
  currency: r.currency,
  reason: r.reason,
  status: r.status,
  requestedBy: r.requestedBy,
  decidedBy: r.decidedBy,
  decidedAt: iso(r.decidedAt),
  expiresAt: r.expiresAt.toISOString(),
  providerRefundId: r.providerRefundId,
  failureReason: r.failureReason,
  createdAt: r.createdAt.toISOString(),
});

// Refunds, mirroring adjustments: at or below ADMIN_REFUND_APPROVAL_MINOR the refund is sent at
// once; above it (or to oneself) it waits, pending, for another admin's approve or reject.
export const refundProcedures = {
  refundPayment: adminProcedure
    .meta({
      errors: ["NOT_FOUND", "IDEMPOTENCY_CONFLICT", "INVALID_STATE", "PROVIDER_UNAVAILABLE"],
      openapi: {
        method: "POST",
        path: "/admin/payments/{paymentId}/refund",
        tags: ["admin"],
        summary: "Refund a paid payment, in full or in part (above the threshold: a pending request)",
      },
    })
    .input(
      z.strictObject({
        paymentId: uuid,
        // Minor units; omitted: everything still refundable.
        amount: z.number().int().min(1).max(MAX_REFUND_MINOR).optional(),
        reason,
        idempotencyKey,
      }),
    )
    .output(refundOutput)
    .mutation(async ({ ctx, input }) =>
      toRefund(
        await ctx.services.refunds.refund({
          actorId: ctx.user.id,
          paymentId: input.paymentId,
          ...(input.amount === undefined ? {} : { amountMinor: input.amount }),
          reason: input.reason,
          idempotencyKey: input.idempotencyKey,
          requestId: ctx.requestId,
        }),
      ),
    ),

  refundApprovals: adminProcedure
    .meta({ openapi: { method: "GET", path: "/admin/refunds", tags: ["admin"], summary: "Refunds awaiting approval" } })
    .input(z.void())
    .output(z.object({ refunds: z.array(refundOutput) }))
    .query(async ({ ctx }) => ({ refunds: (await ctx.services.refunds.pendingRefunds()).map(toRefund) })),

  approveRefund: adminProcedure
    .meta({
      errors: ["NOT_FOUND", "INVALID_STATE", "PROVIDER_UNAVAILABLE"],
      openapi: {
        method: "POST",
        path: "/admin/refunds/{id}/approve",
        tags: ["admin"],
        summary: "Approve another admin's refund",
      },
    })
    .input(z.strictObject({ id: uuid }))
    .output(refundOutput)
    .mutation(async ({ ctx, input }) =>
      toRefund(
        await ctx.services.refunds.approve({ refundId: input.id, actorId: ctx.user.id, requestId: ctx.requestId }),
      ),
    ),

  rejectRefund: adminProcedure
    .meta({
      errors: ["NOT_FOUND", "INVALID_STATE"],
      openapi: {
        method: "POST",
        path: "/admin/refunds/{id}/reject",
        tags: ["admin"],
        summary: "Reject another admin's refund",
      },
    })
    .input(z.strictObject({ id: uuid }))
    .output(refundOutput)
    .mutation(async ({ ctx, input }) =>
      toRefund(
        await ctx.services.refunds.reject({ refundId: input.id, actorId: ctx.user.id, requestId: ctx.requestId }),
      ),
    ),
};
