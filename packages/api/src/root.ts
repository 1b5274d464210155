import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import { adminRouter } from "./routers/admin.ts";
import { alertsRouter } from "./routers/alerts.ts";
import { authRouter } from "./routers/auth.ts";
import { autoTopUpRouter } from "./routers/auto-topup.ts";
import { checkoutRouter } from "./routers/checkout.ts";
import { creditsRouter } from "./routers/credits.ts";
import { gdprRouter } from "./routers/gdpr.ts";
import { packagesRouter } from "./routers/packages.ts";
import { reconciliationRouter } from "./routers/reconciliation.ts";
import { setupRouter } from "./routers/setup.ts";
import { createCallerFactory, router } from "./trpc.ts";

export const appRouter = router({
  auth: authRouter,
  credits: creditsRouter,
  checkout: checkoutRouter,
  packages: packagesRouter,
  admin: adminRouter,
  alerts: alertsRouter,
  autoTopUp: autoTopUpRouter,
  gdpr: gdprRouter,
  reconciliation: reconciliationRouter,
  setup: setupRouter,
});

export type AppRouter = typeof appRouter;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;

export const createCaller = createCallerFactory(appRouter);
