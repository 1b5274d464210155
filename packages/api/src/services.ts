import {
  type ApiKeyService,
  type AuthService,
  type CatalogStore,
  type Clock,
  type CreditService,
  createApiKeyService,
  createAuthService,
  createCreditService,
  createRateLimiter,
  type RateLimiter,
  systemClock,
} from "@credits/core";
import {
  createAccountStore,
  createApiKeyStore,
  createCatalogStore,
  createLedgerStore,
  createRateLimitStore,
  createSessionStore,
  type Database,
} from "@credits/db";

// Everything the procedures call, wired once per process from one database and one clock.
export interface Services {
  credits: CreditService;
  auth: AuthService;
  apiKeys: ApiKeyService;
  catalog: CatalogStore;
  authRateLimiter: RateLimiter;
}

export interface ServiceOptions {
  clock?: Clock;
  authAttemptsPerMinute: number;
}

export function createServices(db: Database, { clock = systemClock, authAttemptsPerMinute }: ServiceOptions): Services {
  return {
    credits: createCreditService({ store: createLedgerStore(db), clock }),
    auth: createAuthService({ accounts: createAccountStore(db), sessions: createSessionStore(db), clock }),
    apiKeys: createApiKeyService({ store: createApiKeyStore(db), clock }),
    catalog: createCatalogStore(db),
    authRateLimiter: createRateLimiter({
      store: createRateLimitStore(db),
      clock,
      limit: authAttemptsPerMinute,
      windowMs: 60_000,
    }),
  };
}
