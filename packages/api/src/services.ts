import {
  type AdminService,
  type ApiKeyService,
  type AuthService,
  type AuthThrottle,
  type CatalogStore,
  type Clock,
  type CreditService,
  createAdminService,
  createApiKeyService,
  createAuthService,
  createAuthThrottle,
  createCreditService,
  createGdprService,
  createKeyCreditsService,
  createPasswordHasher,
  createPaymentService,
  createRateLimiter,
  createReconciliationService,
  type GdprService,
  type HashingLimits,
  type KeyCreditsService,
  type PaymentProvider,
  type PaymentService,
  type RateLimiter,
  type ReconciliationService,
  systemClock,
} from "@credits/core";
import {
  createAccountStore,
  createAdminStore,
  createApiKeyStore,
  createCatalogStore,
  createGdprStore,
  createKeyCreditsStore,
  createLedgerStore,
  createPaymentStore,
  createRateLimitStore,
  createReconciliationStore,
  createSessionStore,
  type Database,
} from "@credits/db";
import { traced } from "@credits/observability";

// Everything the procedures call, wired once per process from one database and one clock.
export interface Services {
  admin: AdminService;
  // Grants through API keys (approval rule, audit, limits) and the spend limits of keys.
  keyCredits: KeyCreditsService;
  credits: CreditService;
  auth: AuthService;
  apiKeys: ApiKeyService;
  catalog: CatalogStore;
  authRateLimiter: RateLimiter;
  // Calls that reach the payment provider (checkout, confirm), per user.
  checkoutRateLimiter: RateLimiter;
  // Log-in and sign-up limits: per client address, and failed log-ins per (email, address) and per email.
  authThrottle: AuthThrottle;
  payments: PaymentService;
  gdpr: GdprService;
  provider: PaymentProvider;
  reconciliation: ReconciliationService;
}

export interface ServiceOptions {
  clock?: Clock;
  authAttemptsPerMinute: number;
  // Checkout and confirm calls per user per minute (each reaches the payment provider).
  checkoutsPerUserPerMinute?: number;
  // Failed log-ins per (email, address), and per email from all addresses, per 15 minutes.
  failedLoginsPerAddress?: number;
  failedLoginsPerEmail?: number;
  // Password hashes at once and waiting (beyond: 429); argon2id's parameters are not an option.
  passwordHashing?: HashingLimits;
  provider: PaymentProvider;
  publicUrl: string;
  approvalThreshold?: number;
  approvalTtlMs?: number;
  // How far back a reconciliation run looks by default (days).
  reconcileWindowDays?: number;
}

export function createServices(db: Database, options: ServiceOptions): Services {
  const { clock = systemClock, provider } = options;
  const catalog = createCatalogStore(db);
  const rateLimits = createRateLimitStore(db);
  const apiKeys = createApiKeyService({ store: createApiKeyStore(db), clock });
  // Credit operations run in spans (`credits.spend`, `payments.handleEvent`, …), wrapped here at
  // composition so the domain code stays free of tracing; services built on these get them too.
  const credits = traced("credits", createCreditService({ store: createLedgerStore(db), clock }));
  const payments = traced(
    "payments",
    createPaymentService({
      store: createPaymentStore(db),
      catalog,
      provider,
      publicUrl: options.publicUrl,
      clock,
    }),
  );
  return {
    keyCredits: traced(
      "keyCredits",
      createKeyCreditsService({
        store: createKeyCreditsStore(db),
        clock,
        approvalThreshold: options.approvalThreshold ?? 10_000,
        approvalTtlMs: options.approvalTtlMs ?? 72 * 3_600_000,
      }),
    ),
    admin: traced(
      "admin",
      createAdminService({
        store: createAdminStore(db),
        clock,
        approvalThreshold: options.approvalThreshold ?? 10_000,
        approvalTtlMs: options.approvalTtlMs ?? 72 * 3_600_000,
      }),
    ),
    credits,
    auth: createAuthService({
      accounts: createAccountStore(db),
      sessions: createSessionStore(db),
      clock,
      hasher: createPasswordHasher(options.passwordHashing ? { limits: options.passwordHashing } : {}),
    }),
    apiKeys,
    catalog,
    provider,
    payments,
    gdpr: traced(
      "gdpr",
      forgettingErasedKeys(createGdprService({ store: createGdprStore(db), provider, clock }), apiKeys),
    ),
    reconciliation: traced(
      "reconciliation",
      createReconciliationService({
        store: createReconciliationStore(db),
        credits,
        payments,
        provider,
        clock,
        ...(options.reconcileWindowDays ? { windowDays: options.reconcileWindowDays } : {}),
      }),
    ),
    checkoutRateLimiter: createRateLimiter({
      store: rateLimits,
      clock,
      limit: options.checkoutsPerUserPerMinute ?? 10,
      windowMs: 60_000,
    }),
    authRateLimiter: createRateLimiter({
      store: rateLimits,
      clock,
      limit: options.authAttemptsPerMinute,
      windowMs: 60_000,
    }),
    authThrottle: createAuthThrottle({
      store: rateLimits,
      clock,
      limits: {
        attemptsPerMinute: options.authAttemptsPerMinute,
        failedPerAddress: options.failedLoginsPerAddress ?? 10,
        failedPerEmail: options.failedLoginsPerEmail ?? 100,
      },
    }),
  };
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
