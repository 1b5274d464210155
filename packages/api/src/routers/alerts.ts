import { MAX_LOW_BALANCE_THRESHOLD } from "@credits/core";
import { z } from "zod";
import { authedProcedure, router } from "../trpc.ts";

const alertsOutput = z.object({
  // In force: the user's own or the instance default; null: alerts off.
  lowBalanceThreshold: z.number().int().nullable(),
  isDefault: z.boolean(),
});

// The signed-in user's alerts: crossing below the threshold raises one alert (mail, banner,
// credits.low_balance), re-armed when the balance goes back above.
export const alertsRouter = router({
  get: authedProcedure
    .meta({ openapi: { method: "GET", path: "/me/alerts", tags: ["alerts"], summary: "My low-balance alert" } })
    .input(z.void())
    .output(alertsOutput)
    .query(({ ctx }) => ctx.services.alerts.lowBalance(ctx.user.id)),

  set: authedProcedure
    .meta({
      openapi: {
        method: "PUT",
        path: "/me/alerts",
        tags: ["alerts"],
        summary: "Set (or turn off) my low-balance alert",
      },
    })
    .input(
      z.strictObject({
        // null turns the alert off.
        lowBalanceThreshold: z.number().int().min(0).max(MAX_LOW_BALANCE_THRESHOLD).nullable(),
      }),
    )
    .output(alertsOutput)
    .mutation(({ ctx, input }) => ctx.services.alerts.setLowBalance(ctx.user.id, input.lowBalanceThreshold)),
});
