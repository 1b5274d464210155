import { clientKey } from "@credits/core";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import {
  balanceOfUser,
  balanceOfUserInput,
  CREDITS_READ_ACCESS,
  CREDITS_READ_SCOPE,
  creditsOfUser,
  creditsOfUserInput,
  myBalance,
  myBalanceInput,
  myCredits,
} from "../lean-read-procedures.ts";
import {
  balanceOutput,
  creditResultOutput,
  credits,
  grantTermsInput,
  historyOutput,
  historyQuery,
  holdOutput,
  idempotencyKey,
  reason,
  toHold,
  ttlSeconds,
  uuid,
} from "../schemas.ts";
import { ownReadProcedure, router, scopeOf, serviceProcedure } from "../trpc.ts";

const change = z.strictObject({ userId: uuid, amount: credits, idempotencyKey, reason: reason.optional() });

// Applied, or (above ADMIN_APPROVAL_THRESHOLD, alone or with the user's other unapproved grants and
// adjustments within the window, or to the key's own owner) filed as an adjustment request that
// another admin must approve: nothing is granted yet.
const grantOutput = z.union([
  creditResultOutput,
  z.object({ status: z.literal("pending"), adjustmentRequestId: z.uuid(), expiresAt: z.iso.datetime() }),
]);

// The server answers the plain REST calls of mine, ofUser, myBalance and balanceOfUser with a lean
// route running the same access rules, schemas and these resolvers (lean-read-procedures.ts, ADR
// 022); these procedures stay the documented definitions.
export const creditsRouter = router({
  mine: ownReadProcedure
    .meta({ openapi: { method: "GET", path: "/me/credits", tags: ["credits"], summary: "My balance and history" } })
    .input(historyQuery)
    .output(historyOutput)
    .query(({ ctx, input }) => myCredits(ctx.ownRead, ctx, input)),

  ofUser: serviceProcedure(CREDITS_READ_SCOPE, CREDITS_READ_ACCESS)
    .meta({
      errors: ["NOT_FOUND"],
      openapi: {
        method: "GET",
        path: "/users/{userId}/credits",
        tags: ["credits"],
        summary: "A user's balance and history",
        protect: true,
      },
    })
    .input(creditsOfUserInput)
    .output(historyOutput)
    .query(({ ctx, input }) => creditsOfUser(ctx, input)),

  // The balance alone (and when credits next expire), the cheapest read: one round trip.
  myBalance: ownReadProcedure
    .meta({
      openapi: { method: "GET", path: "/me/balance", tags: ["credits"], summary: "My balance and next expiry" },
    })
    .input(myBalanceInput)
    .output(balanceOutput)
    .query(({ ctx }) => myBalance(ctx.ownRead, ctx)),

  balanceOfUser: serviceProcedure(CREDITS_READ_SCOPE, CREDITS_READ_ACCESS)
    .meta({
      errors: ["NOT_FOUND"],
      openapi: {
        method: "GET",
        path: "/users/{userId}/balance",
        tags: ["credits"],
        summary: "A user's balance and next expiry",
        protect: true,
      },
    })
    .input(balanceOfUserInput)
    .output(balanceOutput)
    .query(({ ctx, input }) => balanceOfUser(ctx, input)),

  // One procedure for internal tools (API key, any user) and for people spending their own
  // credits (session: the user is always the session's, never the input's).
  spend: serviceProcedure("credits:spend", { orUser: true })
    .meta({
      errors: ["NOT_FOUND", "INSUFFICIENT_CREDITS", "IDEMPOTENCY_CONFLICT", "LIMIT_EXCEEDED"],
      openapi: { method: "POST", path: "/credits/spend", tags: ["credits"], summary: "Spend credits", protect: true },
    })
    .input(change.extend({ userId: uuid.optional() }))
    .output(creditResultOutput)
    .mutation(({ ctx, input }) => {
      let userId = input.userId;
      if (ctx.caller.kind === "user") {
        if (userId !== undefined && userId !== ctx.caller.userId) {
          throw new TRPCError({ code: "FORBIDDEN", message: "you can only spend your own credits" });
        }
        userId = ctx.caller.userId;
      }
      if (!userId) throw new TRPCError({ code: "BAD_REQUEST", message: "userId is required with an API key" });
      const scope = scopeOf(ctx.caller);
      const spend = () => ctx.services.credits.spend({ ...input, userId, scope });
      if (ctx.caller.kind !== "apiKey") return spend();
      const key = clientKey(scope, input.idempotencyKey);
      return ctx.services.keyCredits.metered(
        ctx.caller.key,
        input.amount,
        async (ledger) => (await ledger.findEntryByKey(key.key)) !== null,
        spend,
      );
    }),

  grant: serviceProcedure("credits:grant")
    .meta({
      errors: ["NOT_FOUND", "IDEMPOTENCY_CONFLICT", "LIMIT_EXCEEDED"],
      openapi: { method: "POST", path: "/credits/grant", tags: ["credits"], summary: "Grant credits", protect: true },
    })
    .input(change.extend(grantTermsInput))
    .output(grantOutput)
    .mutation(async ({ ctx, input: { category, priority, expiresAt, ...input } }) => {
      // Only API keys hold this scope; their grants answer to the key's owner (key-credits.ts).
      if (ctx.caller.kind !== "apiKey") throw new TRPCError({ code: "FORBIDDEN", message: "requires an API key" });
      const result = await ctx.services.keyCredits.grant(ctx.caller.key, {
        ...input,
        terms: { category, priority, expiresAt },
        requestId: ctx.requestId,
      });
      if (result.status === "applied") return { transactionId: result.transactionId, balance: result.balance };
      const request = result.adjustmentRequest;
      return {
        status: "pending" as const,
        adjustmentRequestId: request.id,
        expiresAt: request.expiresAt.toISOString(),
      };
    }),

  hold: serviceProcedure("credits:spend")
    .meta({
      errors: ["NOT_FOUND", "INSUFFICIENT_CREDITS", "IDEMPOTENCY_CONFLICT", "LIMIT_EXCEEDED"],
      openapi: {
        method: "POST",
        path: "/credits/holds",
        tags: ["holds"],
        summary: "Reserve credits for a long job",
        protect: true,
      },
    })
    .input(z.strictObject({ userId: uuid, amount: credits, idempotencyKey, ttlSeconds: ttlSeconds.optional() }))
    .output(holdOutput)
    .mutation(async ({ ctx, input }) => {
      const scope = scopeOf(ctx.caller);
      const hold = () => ctx.services.credits.hold({ ...input, scope });
      const key = clientKey(scope, input.idempotencyKey);
      // A hold counts against a key's daily spend limit when it is made (a capture adds nothing).
      const held =
        ctx.caller.kind === "apiKey"
          ? await ctx.services.keyCredits.metered(
              ctx.caller.key,
              input.amount,
              async (ledger) => (await ledger.findHoldByKey(key.key)) !== null,
              hold,
            )
          : await hold();
      return toHold(held.hold, held.balance);
    }),

  capture: serviceProcedure("credits:spend")
    .meta({
      errors: ["NOT_FOUND", "INVALID_STATE"],
      openapi: {
        method: "POST",
        path: "/credits/holds/{holdId}/capture",
        tags: ["holds"],
        summary: "Capture up to the held amount and return the rest",
        protect: true,
      },
    })
    .input(
      z.strictObject({
        holdId: uuid,
        amount: z
          .number()
          .int()
          .min(0)
          .max(credits.maxValue ?? 0),
      }),
    )
    .output(holdOutput)
    .mutation(async ({ ctx, input }) => {
      const { hold, balance } = await ctx.services.credits.capture(input.holdId, input.amount);
      return toHold(hold, balance);
    }),

  release: serviceProcedure("credits:spend")
    .meta({
      errors: ["NOT_FOUND", "INVALID_STATE"],
      openapi: {
        method: "POST",
        path: "/credits/holds/{holdId}/release",
        tags: ["holds"],
        summary: "Release a hold in full",
        protect: true,
      },
    })
    .input(z.strictObject({ holdId: uuid }))
    .output(holdOutput)
    .mutation(async ({ ctx, input }) => {
      const { hold, balance } = await ctx.services.credits.release(input.holdId);
      return toHold(hold, balance);
    }),
});
