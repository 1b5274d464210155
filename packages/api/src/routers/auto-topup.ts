import {
  type AutoTopUpAttemptReason,
  type AutoTopUpStatus,
  autoTopUpAttemptReasons,
  autoTopUpAttemptStatuses,
  MAX_AUTO_TOPUP_THRESHOLD,
} from "@credits/core";
import { z } from "zod";
import { currency, priceOutput, uuid } from "../schemas.ts";
import { authedProcedure, router } from "../trpc.ts";

const FIRST_REASONS = ["declined", "authentication_required", "cap_reached", "provider_error", "disabled"] as const;
const firstReason = (reason: AutoTopUpAttemptReason | null): (typeof FIRST_REASONS)[number] | null =>
  reason === "price_unavailable" || reason === "card_removed"
    ? "disabled"
    : reason === "flagged"
      ? "provider_error"
      : reason;

const autoTopUpOutput = z.object({
  enabled: z.boolean(),
  // Null until chosen.
  threshold: z.number().int().nullable(),
  packageId: z.uuid().nullable(),
  // The currency the pack is bought in (lowercase ISO 4217); null until chosen.
  currency: z.string().nullable(),
  // What a top-up charges: the pack's price in that currency, in its minor units. Null until
  // chosen, or when the pack was archived or no longer sells in that currency (a top-up is then
  // skipped with reason price_unavailable): choose again.
  price: priceOutput.nullable(),
  // A Checkout saved a card for off-session charges (the next purchase saves one otherwise).
  cardSaved: z.boolean(),
  consecutiveFailures: z.number().int(),
  // Why the platform turned it off (failures in a row); null otherwise.
  disabledReason: z.string().nullable(),
  // Charges per UTC day and month, and what they may add up to in the chosen currency (minor
  // units; null until chosen, 0: no top-up in that currency).
  caps: z.object({
    perDay: z.number().int(),
    perMonth: z.number().int(),
    amountPerDayMinor: z.number().int().nullable(),
    amountPerMonthMinor: z.number().int().nullable(),
  }),
  lastAttempt: z
    .object({
      status: z.enum(autoTopUpAttemptStatuses),
      // The reasons of the first version of this API (kept so that a client's enum still parses):
      // price_unavailable and card_removed are told as "disabled" (nothing charged), flagged as
      // "provider_error".
      reason: z.enum(FIRST_REASONS).nullable(),
      // The precise reason, including those added since.
      // An open set (ADR 018): causes are added as the product learns them (card_removed, 0030).
      cause: z
        .enum(autoTopUpAttemptReasons)
        .describe("Why the attempt ended so; new causes may be added, so show one you do not know as it is")
        .meta({ "x-extensible-enum": true })
        .nullable(),
      paymentId: z.uuid().nullable(),
      createdAt: z.iso.datetime(),
    })
    .nullable(),
});

const toOutput = (status: AutoTopUpStatus): z.infer<typeof autoTopUpOutput> => ({
  ...status,
  lastAttempt: status.lastAttempt && {
    ...status.lastAttempt,
    reason: firstReason(status.lastAttempt.reason),
    cause: status.lastAttempt.reason,
    createdAt: status.lastAttempt.createdAt.toISOString(),
  },
});

// The signed-in user's auto top-up: when a spend takes the balance below the threshold, the
// chosen pack is bought with the card a Checkout saved (one charge per crossing, within the caps).
export const autoTopUpRouter = router({
  get: authedProcedure
    .meta({ openapi: { method: "GET", path: "/me/auto-topup", tags: ["auto top-up"], summary: "My auto top-up" } })
    .input(z.void())
    .output(autoTopUpOutput)
    .query(async ({ ctx }) => toOutput(await ctx.services.autoTopUp.status(ctx.user.id))),

  set: authedProcedure
    .meta({
      // An unknown or archived pack; a currency the pack is not priced in (400).
      errors: ["NOT_FOUND"],
      openapi: {
        method: "PUT",
        path: "/me/auto-topup",
        tags: ["auto top-up"],
        summary: "Turn my auto top-up on or off, with its threshold and pack",
      },
    })
    .input(
      z.strictObject({
        enabled: z.boolean(),
        threshold: z.number().int().min(1).max(MAX_AUTO_TOPUP_THRESHOLD),
        packageId: uuid,
        // One of the pack's prices; omitted: the one chosen before for this pack, else its default price.
        currency: currency.optional(),
      }),
    )
    .output(autoTopUpOutput)
    .mutation(async ({ ctx, input }) => toOutput(await ctx.services.autoTopUp.choose(ctx.user.id, input))),

  // Idempotent: with no card saved it answers the settings as they are.
  removeCard: authedProcedure
    .meta({
      // Detaching the card at the provider failed: auto top-up is off already; ask again.
      errors: ["PROVIDER_UNAVAILABLE"],
      openapi: {
        method: "DELETE",
        path: "/me/auto-topup/payment-method",
        tags: ["auto top-up"],
        summary: "Remove my saved card (turns auto top-up off)",
      },
    })
    .input(z.void())
    .output(autoTopUpOutput)
    .mutation(async ({ ctx }) => toOutput(await ctx.services.autoTopUp.removeCard(ctx.user.id, ctx.requestId))),
});
