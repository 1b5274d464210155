import type { PaymentProvider } from "@credits/core";
import { createLocalProvider, type LocalProvider } from "./local-provider.ts";
import { createStripeProvider } from "./stripe-provider.ts";

// Stripe when a secret key is configured; otherwise the local test-mode provider, so a fresh
// machine can buy credits with no account anywhere.
export function paymentProviderFromEnv(env: {
  STRIPE_SECRET_KEY?: string | undefined;
  STRIPE_WEBHOOK_SECRET?: string | undefined;
  STRIPE_API_BASE?: string | undefined;
  STRIPE_TIMEOUT_MS?: number | undefined;
  STRIPE_ALLOW_PROMOTION_CODES?: boolean | undefined;
  STRIPE_AUTOMATIC_TAX?: boolean | undefined;
  PUBLIC_URL: string;
}): { provider: PaymentProvider; local: LocalProvider | null } {
  if (env.STRIPE_SECRET_KEY && env.STRIPE_WEBHOOK_SECRET) {
    const provider = createStripeProvider({
      secretKey: env.STRIPE_SECRET_KEY,
      webhookSecret: env.STRIPE_WEBHOOK_SECRET,
      ...(env.STRIPE_API_BASE ? { apiBase: env.STRIPE_API_BASE } : {}),
      ...(env.STRIPE_TIMEOUT_MS ? { timeoutMs: env.STRIPE_TIMEOUT_MS } : {}),
      checkout: {
        allowPromotionCodes: env.STRIPE_ALLOW_PROMOTION_CODES ?? false,
        automaticTax: env.STRIPE_AUTOMATIC_TAX ?? false,
      },
    });
    return { provider, local: null };
  }
  const local = createLocalProvider({
    publicUrl: env.PUBLIC_URL,
    allowPromotionCodes: env.STRIPE_ALLOW_PROMOTION_CODES ?? false,
  });
  return { provider: local, local };
}
