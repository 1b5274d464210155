export * from "./from-env.ts";
export {
  createLocalProvider,
  LOCAL_CARD,
  LOCAL_DECLINING_CARD,
  type LocalCompletion,
  type LocalOutcome,
  type LocalProvider,
  localOutcomes,
  MAX_LOCAL_SESSIONS,
  promotionOutcomes,
} from "./local-provider.ts";
export {
  createStripeProvider,
  DEFAULT_STRIPE_API_BASE,
  DEFAULT_STRIPE_TIMEOUT_MS,
  MAX_LISTED_OBJECTS,
  STRIPE_MAX_NETWORK_RETRIES,
  type StripeProviderOptions,
} from "./stripe-provider.ts";
export { WEBHOOK_TOLERANCE_SECONDS } from "./stripe-webhook.ts";
