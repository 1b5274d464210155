import type { PaymentRefunds, UserSummary } from "@credits/core";
import { chargedMinor, disputeStatuses, MAX_EMAIL_LENGTH, MAX_PAGE_SIZE, userRoles } from "@credits/core";
import { z } from "zod";
import { creditGrantOutput, reason, text, toGrant, uuid } from "../schemas.ts";
import { adminProcedure } from "../trpc.ts";
import { refundOutput, toRefund } from "./admin-refunds.ts";

const iso = (date: Date | null) => date?.toISOString() ?? null;

const userSummaryOutput = z.object({
  id: z.uuid(),
  email: z.string().nullable(),
  name: z.string().nullable(),
  role: z.enum(userRoles),
  balance: z.number().int(),
  disputed: z.boolean(),
  erased: z.boolean(),
  createdAt: z.iso.datetime(),
});
const toSummary = (u: UserSummary): z.infer<typeof userSummaryOutput> => ({
  id: u.id,
  email: u.email,
  name: u.name,
  role: u.role,
  balance: u.balance,
  disputed: u.disputedAt !== null,
  erased: u.erasedAt !== null,
  createdAt: u.createdAt.toISOString(),
});

const holdOutput = z.object({
  id: z.uuid(),
  amount: z.number().int(),
  capturedAmount: z.number().int().nullable(),
  status: z.string(),
  expiresAt: z.iso.datetime(),
  createdAt: z.iso.datetime(),
});

// A payment as an admin sees it: its money (minor units of its currency: the pack's price, what
// was paid after a promotion code and with tax, and those two when the provider said), what the
// provider reports refunded, what is left to refund (0 when it cannot be), its dispute if the payer
// disputed the charge (its amount may be part of the charge; null for one recorded before it was
// kept), and its refunds, newest first.
const adminPaymentOutput = z.object({
  id: z.uuid(),
  status: z.string(),
  credits: z.number().int(),
  amountMinor: z.number().int(),
  amountPaidMinor: z.number().int(),
  amountDiscountMinor: z.number().int().nullable(),
  amountTaxMinor: z.number().int().nullable(),
  currency: z.string(),
  amountRefundedMinor: z.number().int(),
  refundableMinor: z.number().int(),
  dispute: z.object({ status: z.enum(disputeStatuses), amountMinor: z.number().int().nullable() }).nullable(),
  reviewReason: z.string().nullable(),
  createdAt: z.iso.datetime(),
  refunds: z.array(refundOutput),
});
const toAdminPayment = ({ payment: p, refunds, refundableMinor }: PaymentRefunds) => ({
  id: p.id,
  status: p.status,
  credits: p.credits,
  amountMinor: p.amountMinor,
  amountPaidMinor: chargedMinor(p),
  amountDiscountMinor: p.amountDiscountMinor,
  amountTaxMinor: p.amountTaxMinor,
  currency: p.currency,
  amountRefundedMinor: p.amountRefundedMinor,
  refundableMinor,
  dispute: p.disputeStatus ? { status: p.disputeStatus, amountMinor: p.disputeAmountMinor } : null,
  reviewReason: p.reviewReason,
  createdAt: p.createdAt.toISOString(),
  refunds: refunds.map(toRefund),
});

export const userProcedures = {
  users: adminProcedure
    .meta({ openapi: { method: "GET", path: "/admin/users", tags: ["admin"], summary: "Find users by email or id" } })
    .input(z.strictObject({ query: text({ max: MAX_EMAIL_LENGTH, min: 0 }).optional() }))
    .output(z.object({ users: z.array(userSummaryOutput) }))
    .query(async ({ ctx, input }) => ({
      users: (await ctx.services.admin.searchUsers(input.query ?? "")).map(toSummary),
    })),

  user: adminProcedure
    .meta({
      errors: ["NOT_FOUND"],
      openapi: { method: "GET", path: "/admin/users/{userId}", tags: ["admin"], summary: "A user's account" },
    })
    .input(z.strictObject({ userId: uuid }))
    .output(
      z.object({
        user: userSummaryOutput,
        holds: z.array(holdOutput),
        // Live and past (spent, expired), newest first.
        grants: z.array(creditGrantOutput.extend({ amount: z.number().int(), expiredAt: z.iso.datetime().nullable() })),
        payments: z.array(adminPaymentOutput),
      }),
    )
    .query(async ({ ctx, input }) => {
      const user = await ctx.services.admin.userSummary(input.userId);
      const [holds, payments, grants] = await Promise.all([
        ctx.services.credits.listHolds(input.userId),
        ctx.services.payments.listPayments(input.userId).then((list) => ctx.services.refunds.refundsOfPayments(list)),
        ctx.services.credits.grantHistory(input.userId, MAX_PAGE_SIZE),
      ]);
      return {
        user: toSummary(user),
        holds: holds.map((h) => ({
          id: h.id,
          amount: h.amount,
          capturedAmount: h.capturedAmount,
          status: h.status,
          expiresAt: h.expiresAt.toISOString(),
          createdAt: h.createdAt.toISOString(),
        })),
        grants: grants.map((g) => ({ ...toGrant(g), amount: g.amount, expiredAt: iso(g.expiredAt) })),
        payments: payments.map(toAdminPayment),
      };
    }),

  eraseUser: adminProcedure
    .meta({
      errors: ["NOT_FOUND"],
      openapi: { method: "POST", path: "/admin/users/{userId}/erase", tags: ["admin"], summary: "Erase a user (GDPR)" },
    })
    .input(
      z.strictObject({
        userId: uuid,
        reason,
        // The user's email, typed by the admin: compared trimmed and case-insensitively, a
        // mismatch erases nothing (400). Optional for existing REST clients; the panel always sends it.
        confirmEmail: text({ max: MAX_EMAIL_LENGTH }).optional(),
      }),
    )
    .output(z.object({ erasedAt: z.iso.datetime(), alreadyErased: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      const result = await ctx.services.gdpr.erase({
        userId: input.userId,
        actorId: ctx.user.id,
        requestId: ctx.requestId,
        reason: input.reason,
        ...(input.confirmEmail === undefined ? {} : { confirmEmail: input.confirmEmail }),
      });
      return { erasedAt: result.erasedAt.toISOString(), alreadyErased: result.alreadyErased };
    }),
};
