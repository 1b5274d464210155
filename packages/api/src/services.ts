import type {
  AdminService,
  AlertService,
  ApiKeyService,
  AuthService,
  AuthThrottle,
  AutoTopUpService,
  CatalogService,
  CreditService,
  ExpiryNotifier,
  FirstAdminSetup,
  GdprService,
  KeyCreditsService,
  MailDispatcher,
  PaymentProvider,
  PaymentService,
  RateLimiter,
  ReconciliationService,
  RefundService,
  WebhookService,
} from "@credits/core";

// Everything the procedures call. The composition root (apps/server's createServices) builds it
// once per process from one database, one payment provider and one clock; the router never
// knows which.
export interface Services {
  admin: AdminService;
  // Auto top-up: the user's choice, and the worker's pass that charges saved cards.
  autoTopUp: AutoTopUpService;
  // Low-balance thresholds (the crossing itself is detected by the ledger, migration 0010).
  alerts: AlertService;
  // credits.expiring: announces grants about to expire (run by each instance's grant sweep).
  expiryNotices: ExpiryNotifier;
  // Grants through API keys (approval rule, audit, limits) and the spend limits of keys.
  keyCredits: KeyCreditsService;
  credits: CreditService;
  auth: AuthService;
  // The first admin from the browser (/setup), with the one-time token the server printed at start.
  firstAdmin: FirstAdminSetup;
  apiKeys: ApiKeyService;
  // What is sold: packs and their prices, managed by admins.
  catalog: CatalogService;
  authRateLimiter: RateLimiter;
  // Calls that reach the payment provider (checkout, confirm), per user.
  checkoutRateLimiter: RateLimiter;
  // GDPR exports (each reads the user's whole ledger), per user.
  exportRateLimiter: RateLimiter;
  // Log-in and sign-up limits: per client address, and failed log-ins per (email, address) and per email.
  authThrottle: AuthThrottle;
  payments: PaymentService;
  // Queued mail (receipts, alerts) and the erasure confirmation; the server runs its passes.
  mail: MailDispatcher;
  // Refunds from the admin panel and API, with a second admin above the threshold.
  refunds: RefundService;
  gdpr: GdprService;
  provider: PaymentProvider;
  reconciliation: ReconciliationService;
  // Outbound webhook endpoints (admins) and the delivery worker's pass.
  webhooks: WebhookService;
}
