import {
  type AdminService,
  type ApiKeyService,
  type AuthService,
  type CatalogStore,
  type Clock,
  type CreditService,
  createAdminService,
  createApiKeyService,
  createAuthService,
  createCreditService,
  createPaymentService,
  createRateLimiter,
  type PaymentProvider,
  type PaymentService,
  type RateLimiter,
  systemClock,
} from "@credits/core";
import {
  createAccountStore,
  createAdminStore,
  createApiKeyStore,
  createCatalogStore,
  createLedgerStore,
  createPaymentStore,
  createRateLimitStore,
  createSessionStore,
  type Database,
} from "@credits/db";

// Everything the procedures call, wired once per process from one database and one clock.
export interface Services {
  admin: AdminService;
  credits: CreditService;
  auth: AuthService;
  apiKeys: ApiKeyService;
  catalog: CatalogStore;
  authRateLimiter: RateLimiter;
  payments: PaymentService;
  provider: PaymentProvider;
}

export interface ServiceOptions {
  clock?: Clock;
  authAttemptsPerMinute: number;
  provider: PaymentProvider;
  publicUrl: string;
  approvalThreshold?: number;
  approvalTtlMs?: number;
}

export function createServices(db: Database, options: ServiceOptions): Services {
  const { clock = systemClock, provider } = options;
  const catalog = createCatalogStore(db);
  return {
    admin: createAdminService({
      store: createAdminStore(db),
      clock,
      approvalThreshold: options.approvalThreshold ?? 10_000,
      approvalTtlMs: options.approvalTtlMs ?? 72 * 3_600_000,
    }),
    credits: createCreditService({ store: createLedgerStore(db), clock }),
    auth: createAuthService({ accounts: createAccountStore(db), sessions: createSessionStore(db), clock }),
    apiKeys: createApiKeyService({ store: createApiKeyStore(db), clock }),
    catalog,
    provider,
    payments: createPaymentService({
      store: createPaymentStore(db),
      catalog,
      provider,
      publicUrl: options.publicUrl,
      clock,
    }),
    authRateLimiter: createRateLimiter({
      store: createRateLimitStore(db),
      clock,
      limit: options.authAttemptsPerMinute,
      windowMs: 60_000,
    }),
  };
}
