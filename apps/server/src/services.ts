import type { Services } from "@credits/api";
import {
  type ApiKeyService,
  type CatalogStore,
  type Clock,
  createAdminService,
  createAlertService,
  createApiKeyService,
  createAuthService,
  createAuthThrottle,
  createAutoTopUpService,
  createCatalogService,
  createCreditService,
  createExpiryNotifier,
  createFirstAdminSetup,
  createGdprService,
  createKeyCreditsService,
  createMailDispatcher,
  createPasswordHasher,
  createPaymentService,
  createRateLimiter,
  createReconciliationService,
  createRefundService,
  createWebhookService,
  type GdprService,
  type PaymentProvider,
  type RateLimitStore,
  systemClock,
} from "@credits/core";
import {
  createAccountStore,
  createAdminStore,
  createAlertStore,
  createApiKeyStore,
  createAutoTopUpStore,
  createCatalogStore,
  createExpiryNoticeStore,
  createGdprStore,
  createKeyCreditsStore,
  createLedgerStore,
  createMailStore,
  createPaymentStore,
  createRateLimitStore,
  createReconciliationStore,
  createSessionStore,
  createWebhookStore,
  type Database,
} from "@credits/db";
import type { Env } from "@credits/env";
import { logger, traced } from "@credits/observability";
import { paymentProviderFromEnv } from "@credits/stripe";
import { mailTransport } from "./mail.ts";
import { createWebhookSender, resolveHost } from "./webhook-sender.ts";

export interface ServiceDependencies {
  db: Database;
  // Reads that tolerate staleness go here (a streaming replica, DATABASE_READ_URL); by default `db`.
  // Only the stores that have such reads are given it, and each decides which of its reads qualify.
  readDb?: Database;
  // The server passes the provider it also mounts (the local checkout pages); by default, env's.
  provider?: PaymentProvider;
  // Tests move time.
  clock?: Clock;
}

// The composition root: the one place where the database, the payment provider, the
// configuration and the core's services are wired together. The server, the CLI, the bench and
// the fault harness all build their services here, so they run the same rules with the same
// settings.
export function createServices(
  env: Env,
  { db, readDb = db, provider = paymentProviderFromEnv(env).provider, clock = systemClock }: ServiceDependencies,
): Services {
  const approval = {
    approvalThreshold: env.ADMIN_APPROVAL_THRESHOLD,
    approvalTtlMs: env.ADMIN_APPROVAL_TTL_HOURS * 3_600_000,
    approvalWindowMs: env.ADMIN_APPROVAL_WINDOW_HOURS * 3_600_000,
  };
  const catalogStore = createCatalogStore(db);
  const apiKeys = createApiKeyService({ store: createApiKeyStore(db), clock });
  // Credit operations run in spans (`credits.spend`, `payments.handleEvent`, …), wrapped here at
  // composition so the domain code stays free of tracing; services built on these get them too.
  const credits = traced("credits", createCreditService({ store: createLedgerStore(db), clock }));
  const { payments, refunds, autoTopUp } = paymentServices(env, { db, catalog: catalogStore, provider, clock });
  const admin = traced("admin", createAdminService({ store: createAdminStore(db, readDb), clock, ...approval }));
  const accounts = createAccountStore(db);
  const mail = createMailDispatcher({
    store: createMailStore(db),
    transport: mailTransport(env.SMTP_URL, env.MAIL_FROM),
    clock,
    // The cause's kind only: its ids (and the transport's error, which may quote an address) stay out.
    log: ({ level, message, cause }) => logger[level]({ job: "mail", cause: cause.split(":")[0] }, message),
  });
  const auth = createAuthService({
    accounts,
    sessions: createSessionStore(db),
    clock,
    hasher: createPasswordHasher({
      limits: { concurrency: env.PASSWORD_HASH_CONCURRENCY, maxQueued: env.PASSWORD_HASH_QUEUE },
    }),
  });
  return {
    webhooks: traced(
      "webhooks",
      createWebhookService({
        store: createWebhookStore(db),
        sender: createWebhookSender(),
        resolve: resolveHost,
        clock,
        settings: webhookSettings(env),
      }),
    ),
    keyCredits: traced(
      "keyCredits",
      createKeyCreditsService({
        store: createKeyCreditsStore(db),
        clock,
        ...approval,
      }),
    ),
    admin,
    autoTopUp,
    alerts: createAlertService({ store: createAlertStore(db) }),
    expiryNotices: createExpiryNotifier({
      store: createExpiryNoticeStore(db),
      clock,
      noticeDays: env.CREDITS_EXPIRING_NOTICE_DAYS,
    }),
    credits,
    auth,
    firstAdmin: createFirstAdminSetup({ accounts, auth, audit: admin.record, clock }),
    apiKeys,
    catalog: traced("catalog", createCatalogService({ store: catalogStore, clock })),
    provider,
    payments,
    mail,
    refunds,
    gdpr: gdprService({ db, readDb, provider, clock, mail, apiKeys, refunds }),
    reconciliation: traced(
      "reconciliation",
      createReconciliationService({
        store: createReconciliationStore(db),
        credits,
        payments,
        refunds,
        provider,
        clock,
        windowDays: env.RECONCILE_WINDOW_DAYS,
        approval,
      }),
    ),
    ...rateLimiters(env, createRateLimitStore(db), clock),
  };
}

// Payments and the refunds made against them, on one store: a refund's answer is applied through
// the payment service's refund path, in the refund's own transaction.
function paymentServices(
  env: Env,
  deps: { db: Database; catalog: CatalogStore; provider: PaymentProvider; clock: Clock },
) {
  const store = createPaymentStore(deps.db);
  const { catalog, provider, clock } = deps;
  const payments = traced(
    "payments",
    createPaymentService({
      store,
      catalog,
      provider,
      publicUrl: env.PUBLIC_URL,
      promotionReview: {
        threshold: env.ADMIN_APPROVAL_THRESHOLD,
        windowMs: env.ADMIN_APPROVAL_WINDOW_HOURS * 3_600_000,
      },
      clock,
    }),
  );
  const refunds = traced(
    "refunds",
    createRefundService({
      store,
      provider,
      applyRefundLocked: payments.applyRefundLocked,
      approvalThresholds: env.ADMIN_REFUND_APPROVAL_MINOR,
      approvalTtlMs: env.ADMIN_APPROVAL_TTL_HOURS * 3_600_000,
      clock,
    }),
  );
  const autoTopUp = traced(
    "autoTopUp",
    createAutoTopUpService({
      store: createAutoTopUpStore(deps.db),
      payments: store,
      catalog,
      provider,
      fulfil: payments.fulfilLocked,
      publicUrl: env.PUBLIC_URL,
      clock,
      caps: {
        perDay: env.AUTO_TOPUP_MAX_PER_DAY,
        perMonth: env.AUTO_TOPUP_MAX_PER_MONTH,
        amountPerDayMinor: env.AUTO_TOPUP_MAX_AMOUNT_PER_DAY_MINOR,
        amountPerMonthMinor: env.AUTO_TOPUP_MAX_AMOUNT_PER_MONTH_MINOR,
      },
    }),
  );
  return { payments, refunds, autoTopUp };
}

// Per-minute budgets: checkout calls per user, log-in and sign-up attempts per address, and the
// failed log-ins per (email, address) and per email; GDPR exports per user per hour.
function rateLimiters(env: Env, store: RateLimitStore, clock: Clock) {
  const perMinute = (limit: number) => createRateLimiter({ store, clock, limit, windowMs: 60_000 });
  return {
    checkoutRateLimiter: perMinute(env.CHECKOUT_RATE_LIMIT_PER_MINUTE),
    exportRateLimiter: createRateLimiter({
      store,
      clock,
      limit: env.GDPR_EXPORT_RATE_LIMIT_PER_HOUR,
      windowMs: 3_600_000,
    }),
    authRateLimiter: perMinute(env.AUTH_RATE_LIMIT_PER_MINUTE),
    authThrottle: createAuthThrottle({
      store,
      clock,
      limits: {
        attemptsPerMinute: env.AUTH_RATE_LIMIT_PER_MINUTE,
        failedPerAddress: env.AUTH_FAILED_LOGINS_PER_ADDRESS,
        failedPerEmail: env.AUTH_FAILED_LOGINS_PER_EMAIL,
      },
    }),
  };
}

// Erasure and the export; the erasure worker sends erasure refunds through the refund service.
function gdprService(deps: {
  db: Database;
  readDb: Database;
  provider: PaymentProvider;
  clock: Clock;
  mail: Services["mail"];
  apiKeys: ApiKeyService;
  refunds: Services["refunds"];
}): GdprService {
  const { mail } = deps;
  return traced(
    "gdpr",
    forgettingErasedKeys(
      createGdprService({
        store: createGdprStore(deps.db, deps.readDb),
        provider: deps.provider,
        clock: deps.clock,
        confirmErasure: (userId, address) =>
          mail.sendErasureConfirmation(userId, address).catch(() => {
            logger.warn({ job: "mail", cause: "erasure" }, "erasure confirmation not sent");
          }),
        sendErasureRefund: deps.refunds.sendErasureRefund,
      }),
      deps.apiKeys,
    ),
  );
}

// An erased user's API keys stop authenticating in this process at once (the key cache forgets them).
function forgettingErasedKeys(gdpr: GdprService, apiKeys: ApiKeyService): GdprService {
  return {
    ...gdpr,
    erase: async (input) => {
      const result = await gdpr.erase(input);
      apiKeys.forgetOwner(input.userId);
      return result;
    },
  };
}

export function webhookSettings(env: Env) {
  return {
    allowPrivate: env.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE,
    retry: {
      maxAttempts: env.WEBHOOK_MAX_ATTEMPTS,
      baseDelayMs: env.WEBHOOK_RETRY_BASE_MS,
      maxDelayMs: env.WEBHOOK_RETRY_MAX_MS,
    },
    timeoutMs: env.WEBHOOK_TIMEOUT_MS,
    disableAfterFailedDeliveries: env.WEBHOOK_DISABLE_AFTER_FAILED_DELIVERIES,
    rotationOverlapMs: env.WEBHOOK_SECRET_OVERLAP_HOURS * 3_600_000,
    batchSize: 20,
    concurrency: 4,
  };
}
