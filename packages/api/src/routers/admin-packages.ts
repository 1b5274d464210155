import { type CreditPackage, MAX_CREDITS_PER_OPERATION, MAX_NAME_LENGTH, PACKAGE_LIMITS } from "@credits/core";
import { z } from "zod";
import { idempotencyKey, packageOutput, priceInput, text, toPackage, uuid } from "../schemas.ts";
import { adminProcedure } from "../trpc.ts";

const packageFields = {
  name: text({ max: MAX_NAME_LENGTH }),
  credits: z.number().int().min(1).max(MAX_CREDITS_PER_OPERATION),
  // One price per currency (a currency twice is a 400); the first is the pack's default price.
  prices: z.array(priceInput).min(1).max(PACKAGE_LIMITS.maxPrices),
  creditExpiryDays: z
    .number()
    .int()
    .min(PACKAGE_LIMITS.creditExpiryDays.min)
    .max(PACKAGE_LIMITS.creditExpiryDays.max)
    .nullable()
    .describe("the bought credits expire this many days after payment; null: never"),
  position: z.number().int().min(PACKAGE_LIMITS.position.min).max(PACKAGE_LIMITS.position.max),
  highlight: z.boolean(),
};

const adminPackageOutput = packageOutput.extend({
  archivedAt: z.iso.datetime().nullable(),
  awaitingApproval: z
    .boolean()
    .describe("priced below every pack on sale: not sold until an admin other than its creator approves it"),
  createdBy: uuid.nullable().describe("the admin who created the pack (null: seeded)"),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

const toAdminPackage = (p: CreditPackage): z.infer<typeof adminPackageOutput> => ({
  ...toPackage(p),
  archivedAt: p.archivedAt?.toISOString() ?? null,
  awaitingApproval: p.awaitingApproval,
  createdBy: p.createdBy,
  createdAt: p.createdAt.toISOString(),
  updatedAt: p.updatedAt.toISOString(),
});

// The catalogue, managed by admins: every change is audited; a payment already started keeps what
// it was sold (its own credits, amount, currency and expiry), whatever happens to its pack.
export const packageProcedures = {
  packages: adminProcedure
    .meta({
      openapi: { method: "GET", path: "/admin/packages", tags: ["admin"], summary: "Every pack, archived ones too" },
    })
    .input(z.void())
    .output(z.object({ packages: z.array(adminPackageOutput) }))
    .query(async ({ ctx }) => ({ packages: (await ctx.services.catalog.listAll()).map(toAdminPackage) })),

  createPackage: adminProcedure
    .meta({
      errors: ["IDEMPOTENCY_CONFLICT"],
      openapi: {
        method: "POST",
        path: "/admin/packages",
        tags: ["admin"],
        summary: "Create a credit pack",
        description:
          "A pack priced below every pack on sale in one of its currencies (or in a currency no pack on sale " +
          "is priced in) is created awaiting approval: it is not sold until an admin other than its creator approves it.",
      },
    })
    .input(
      z.strictObject({
        ...packageFields,
        creditExpiryDays: packageFields.creditExpiryDays.optional(),
        position: packageFields.position.optional(),
        highlight: packageFields.highlight.optional(),
        // A retried create with the same key answers the same pack.
        idempotencyKey: idempotencyKey.optional(),
      }),
    )
    .output(adminPackageOutput)
    .mutation(async ({ ctx, input: { idempotencyKey: key, ...fields } }) =>
      toAdminPackage(
        await ctx.services.catalog.create(
          { actorId: ctx.user.id, requestId: ctx.requestId },
          {
            ...fields,
            creditExpiryDays: fields.creditExpiryDays ?? null,
            position: fields.position ?? 0,
            highlight: fields.highlight ?? false,
          },
          key ?? null,
        ),
      ),
    ),

  updatePackage: adminProcedure
    .meta({
      errors: ["NOT_FOUND", "INVALID_STATE"],
      openapi: {
        method: "PATCH",
        path: "/admin/packages/{id}",
        tags: ["admin"],
        summary: "Edit a credit pack",
        description:
          "A pack awaiting approval cannot be edited; a pack on sale cannot be priced lower than every other pack " +
          "on sale in a currency (409): create a new pack at that price, which a second admin approves.",
      },
    })
    .input(
      z.strictObject({
        id: uuid,
        name: packageFields.name.optional(),
        credits: packageFields.credits.optional(),
        // The whole new set of prices.
        prices: packageFields.prices.optional(),
        creditExpiryDays: packageFields.creditExpiryDays.optional(),
        position: packageFields.position.optional(),
        highlight: packageFields.highlight.optional(),
      }),
    )
    .output(adminPackageOutput)
    .mutation(async ({ ctx, input: { id, ...patch } }) =>
      toAdminPackage(await ctx.services.catalog.update({ actorId: ctx.user.id, requestId: ctx.requestId }, id, patch)),
    ),

  archivePackage: adminProcedure
    .meta({
      errors: ["NOT_FOUND"],
      openapi: {
        method: "POST",
        path: "/admin/packages/{id}/archive",
        tags: ["admin"],
        summary: "Stop selling a credit pack (checkouts already started still complete)",
      },
    })
    .input(z.strictObject({ id: uuid }))
    .output(adminPackageOutput)
    .mutation(async ({ ctx, input }) =>
      toAdminPackage(await ctx.services.catalog.archive({ actorId: ctx.user.id, requestId: ctx.requestId }, input.id)),
    ),

  approvePackage: adminProcedure
    .meta({
      errors: ["NOT_FOUND", "INVALID_STATE"],
      openapi: {
        method: "POST",
        path: "/admin/packages/{id}/approve",
        tags: ["admin"],
        summary: "Put a pack awaiting approval on sale (an admin other than its creator)",
      },
    })
    .input(z.strictObject({ id: uuid }))
    .output(adminPackageOutput)
    .mutation(async ({ ctx, input }) =>
      toAdminPackage(await ctx.services.catalog.approve({ actorId: ctx.user.id, requestId: ctx.requestId }, input.id)),
    ),
};
