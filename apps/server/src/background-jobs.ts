import type { Services } from "@credits/api";
import type { Env } from "@credits/env";
import { errorsTotal, logger, reportError } from "@credits/observability";
import { startMailSender } from "./mail-sender.ts";
import { createReconciliationScheduler } from "./scheduler.ts";
import { startWebhookWorker } from "./webhook-worker.ts";

const HOLD_SWEEP_INTERVAL_MS = 30_000;

// The process's background work: the expiry sweeps (and the erasure's work at the provider), the mail sender, the daily reconciliation and
// the webhook and auto top-up workers. The server stops them in its own order on close (main.ts).
export function startBackgroundJobs(env: Env, services: Services) {
  const deleteCustomers = env.GDPR_CUSTOMER_DELETE_ENABLED ?? env.NODE_ENV !== "test";
  // Tests share a database and run the erasure's passes themselves: under NODE_ENV=test the pass
  // runs only when the flag is set. Elsewhere it always runs: the flag gates customer deletes only,
  // never the open checkouts' expiry nor the erasure refunds (money an erased user is owed).
  const erasureTasks = env.NODE_ENV !== "test" || env.GDPR_CUSTOMER_DELETE_ENABLED !== undefined;
  const sweep = setInterval(() => {
    services.credits.expireHolds().catch((error) => reportError(error, { where: "job", route: "hold-expiry" }));
    // Ended rate-limit windows, so a flood of distinct keys leaves no lasting rows.
    services.authThrottle
      .purgeExpired()
      .catch((error) => reportError(error, { where: "job", route: "rate-limit-purge" }));
    // The erasure's work at the provider (customers to delete, open checkouts to expire, refunds
    // of payments completed after an erasure) not done yet: done, or tried again.
    if (erasureTasks) {
      services.gdpr
        .runErasureTasks({ deleteCustomers })
        .catch((error) => reportError(error, { where: "job", route: "gdpr-erasure-tasks" }));
    }
  }, HOLD_SWEEP_INTERVAL_MS);
  sweep.unref();
  const grantSweep = setInterval(() => {
    // Then the payments whose credits the expiries took after a clawback (0050), settled again.
    services.credits
      .expireGrants()
      .then(() =>
        services.payments.settleAfterExpiry((error) => reportError(error, { where: "job", route: "expiry-settle" })),
      )
      .catch((error) => reportError(error, { where: "job", route: "grant-expiry" }));
    services.expiryNotices
      .runOnce()
      .catch((error) => reportError(error, { where: "job", route: "grant-expiry-notice" }));
  }, env.EXPIRY_SWEEP_INTERVAL_SECONDS * 1000);
  grantSweep.unref();
  const mailSender = startMailSender(env, services.mail);
  // Tests start many servers: they opt in to the daily reconciliation explicitly.
  const reconciler =
    (env.RECONCILE_ENABLED ?? env.NODE_ENV !== "test")
      ? createReconciliationScheduler({
          reconciliation: services.reconciliation,
          timeOfDay: env.RECONCILE_SCHEDULE,
          closeTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
          log: ({ level, message, ...fields }) => {
            if (level === "error") errorsTotal.inc({ where: "job" });
            logger[level]({ job: "reconciliation", ...fields }, message);
          },
        })
      : null;
  reconciler?.start();
  // Tests start many servers: they opt in to delivering webhooks explicitly.
  const webhookWorker =
    (env.WEBHOOK_WORKER_ENABLED ?? env.NODE_ENV !== "test")
      ? startWebhookWorker({
          webhooks: services.webhooks,
          pollIntervalMs: env.WEBHOOK_POLL_INTERVAL_MS,
          onError: (error) => reportError(error, { where: "job", route: "webhook-delivery" }),
        })
      : null;
  // Auto top-up charges run on the same kind of loop: a pass claims due attempts (SKIP LOCKED).
  const autoTopUpWorker =
    (env.AUTO_TOPUP_WORKER_ENABLED ?? env.NODE_ENV !== "test")
      ? startWebhookWorker({
          webhooks: { deliverDue: services.autoTopUp.runOnce },
          pollIntervalMs: env.AUTO_TOPUP_POLL_INTERVAL_MS,
          onError: (error) => reportError(error, { where: "job", route: "auto-topup" }),
        })
      : null;
  const stopSweeps = () => {
    clearInterval(sweep);
    clearInterval(grantSweep);
  };
  return { stopSweeps, mailSender, reconciler, webhookWorker, autoTopUpWorker };
}
