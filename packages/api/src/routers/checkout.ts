import { chargedMinor, type Payment, paymentStatuses } from "@credits/core";
import { z } from "zod";
import { consumeNoted, type RateLimitJar } from "../rate-limit-headers.ts";
import { currency, idempotencyKey, text, uuid } from "../schemas.ts";
import type { Services } from "../services.ts";
import { authedProcedure, router } from "../trpc.ts";

const paymentOutput = z.object({
  id: z.uuid(),
  status: z.enum(paymentStatuses),
  credits: z.number().int(),
  // The pack's price.
  amountMinor: z.number().int(),
  // Once credited: what was paid (after a promotion code, with tax; 0 when a promotion code took
  // the whole price) and the promotion code's discount. Null before.
  amountPaidMinor: z.number().int().nullable(),
  amountDiscountMinor: z.number().int().nullable(),
  currency: z.string(),
  credited: z.boolean(),
  // Set when a person has to look at the payment: not credited (the session did not match), or
  // credited and to be checked (paid after its checkout was canceled, a refund clawback short).
  underReview: z.boolean(),
  // Once paid: the provider's receipt (Stripe's hosted page) or, on the local provider, the app's
  // own receipt page. Null before payment, or while the provider has not said.
  receiptUrl: z.string().nullable(),
  createdAt: z.iso.datetime(),
});

const receiptOutput = z.object({
  paymentId: z.uuid(),
  packageName: z.string(),
  credits: z.number().int(),
  // What was paid: priceMinor less discountMinor (a promotion code) plus taxMinor.
  amountMinor: z.number().int(),
  priceMinor: z.number().int(),
  discountMinor: z.number().int(),
  taxMinor: z.number().int(),
  currency: z.string(),
  paidAt: z.iso.datetime(),
  receiptUrl: z.string().nullable(),
  hostedByProvider: z.boolean(),
});

const toPayment = (p: Payment): z.infer<typeof paymentOutput> => ({
  id: p.id,
  status: p.status,
  credits: p.credits,
  amountMinor: p.amountMinor,
  amountPaidMinor: p.creditedAt ? chargedMinor(p) : null,
  amountDiscountMinor: p.creditedAt ? (p.amountDiscountMinor ?? 0) : null,
  currency: p.currency,
  credited: p.creditedAt !== null,
  underReview: p.reviewReason !== null,
  receiptUrl: p.creditedAt ? p.receiptUrl : null,
  createdAt: p.createdAt.toISOString(),
});

// A receipt read about to ask the provider (the receipt not stored yet) counts against the
// viewer's receipt limit: the same quota as checkouts, its own count.
const receiptAsking = (ctx: { rateLimits: RateLimitJar; services: Services; user: { id: string } }) => () =>
  consumeNoted(ctx.rateLimits, "receipt", () => ctx.services.checkoutRateLimiter.consume(`receipt:${ctx.user.id}`));

export const checkoutRouter = router({
  create: authedProcedure
    .meta({
      errors: ["NOT_FOUND", "IDEMPOTENCY_CONFLICT", "INVALID_STATE", "RATE_LIMITED", "PROVIDER_UNAVAILABLE"],
      openapi: { method: "POST", path: "/checkout", tags: ["payments"], summary: "Start buying a credit pack" },
    })
    .input(
      z.strictObject({
        packageId: uuid,
        // One of the pack's currencies (a 400 otherwise); by default the pack's first price.
        currency: currency.optional(),
        idempotencyKey: idempotencyKey.optional(),
      }),
    )
    .output(z.object({ paymentId: z.uuid(), checkoutUrl: z.string() }))
    .mutation(async ({ ctx, input }) => {
      await consumeNoted(ctx.rateLimits, "checkout", () =>
        ctx.services.checkoutRateLimiter.consume(`checkout:${ctx.user.id}`),
      );
      return ctx.services.payments.createCheckout(ctx.user.id, input.packageId, {
        idempotencyKey: input.idempotencyKey ?? null,
        currency: input.currency ?? null,
      });
    }),

  // The success page: credits the payment if the provider says it is paid, even before the webhook.
  confirm: authedProcedure
    .meta({
      errors: ["NOT_FOUND", "RATE_LIMITED", "PROVIDER_UNAVAILABLE"],
      openapi: {
        method: "POST",
        path: "/checkout/confirm",
        tags: ["payments"],
        summary: "Confirm a returning checkout",
      },
    })
    .input(z.strictObject({ sessionId: text({ max: 255, trim: false }) }))
    .output(z.object({ payment: paymentOutput, balance: z.number().int() }))
    .mutation(async ({ ctx, input }) => {
      const payment = await ctx.services.payments.confirmCheckout(ctx.user.id, input.sessionId, () =>
        consumeNoted(ctx.rateLimits, "checkout", () =>
          ctx.services.checkoutRateLimiter.consume(`checkout:${ctx.user.id}`),
        ),
      );
      return { payment: toPayment(payment), balance: await ctx.services.credits.balance(ctx.user.id) };
    }),

  payment: authedProcedure
    .meta({
      // RATE_LIMITED: only a read that asks the provider for the receipt counts (receiptAsking).
      errors: ["NOT_FOUND", "RATE_LIMITED"],
      openapi: { method: "GET", path: "/payments/{paymentId}", tags: ["payments"], summary: "One of my payments" },
    })
    .input(z.strictObject({ paymentId: uuid }))
    .output(paymentOutput)
    .query(async ({ ctx, input }) =>
      toPayment(await ctx.services.payments.getPayment(ctx.user.id, input.paymentId, receiptAsking(ctx))),
    ),

  // The receipt page: a paid payment's receipt, for its owner or an admin (404 for anyone else).
  receipt: authedProcedure
    .meta({
      errors: ["NOT_FOUND", "RATE_LIMITED"],
      openapi: {
        method: "GET",
        path: "/payments/{paymentId}/receipt",
        tags: ["payments"],
        summary: "A paid payment's receipt",
      },
    })
    .input(z.strictObject({ paymentId: uuid }))
    .output(receiptOutput)
    .query(async ({ ctx, input }) => {
      const receipt = await ctx.services.payments.receipt(ctx.user, input.paymentId, receiptAsking(ctx));
      return { ...receipt, paidAt: receipt.paidAt.toISOString() };
    }),

  // The cancel page: expires the provider's session and closes the payment as canceled (once; a
  // payment already paid or closed is answered as it is).
  cancel: authedProcedure
    .meta({
      // INVALID_STATE: an auto top-up's payment (not a checkout).
      errors: ["NOT_FOUND", "INVALID_STATE", "RATE_LIMITED", "PROVIDER_UNAVAILABLE"],
      openapi: {
        method: "POST",
        path: "/payments/{paymentId}/cancel",
        tags: ["payments"],
        summary: "Cancel one of my unpaid checkouts",
      },
    })
    .input(z.strictObject({ paymentId: uuid }))
    .output(paymentOutput)
    .mutation(async ({ ctx, input }) =>
      toPayment(
        await ctx.services.payments.cancelCheckout(ctx.user.id, input.paymentId, () =>
          consumeNoted(ctx.rateLimits, "checkout", () =>
            ctx.services.checkoutRateLimiter.consume(`checkout:${ctx.user.id}`),
          ),
        ),
      ),
    ),

  payments: authedProcedure
    .meta({ openapi: { method: "GET", path: "/me/payments", tags: ["payments"], summary: "My recent payments" } })
    .input(z.void())
    .output(z.object({ payments: z.array(paymentOutput) }))
    .query(async ({ ctx }) => ({ payments: (await ctx.services.payments.listPayments(ctx.user.id)).map(toPayment) })),
});
