import { RateLimitedError, type RateLimitResult } from "@credits/core";

// The RateLimit and RateLimit-Policy response headers of the IETF httpapi draft
// (draft-ietf-httpapi-ratelimit-headers-11, May 2026): structured-field lists of a quoted policy
// name with parameters. RateLimit-Policy: "checkout";q=10;w=60 (quota per window of w seconds);
// RateLimit: "checkout";r=9;t=42 (requests left, seconds until the window resets).

// The policy an operation counts against, named as its headers name it.
export const rateLimitPolicies = {
  // Sign-up and log-in attempts per client address per minute (AUTH_RATE_LIMIT_PER_MINUTE).
  auth: "auth",
  // Checkout starts, confirmations and cancels per user per minute (CHECKOUT_RATE_LIMIT_PER_MINUTE).
  checkout: "checkout",
  // GDPR exports per user per hour (GDPR_EXPORT_RATE_LIMIT_PER_HOUR).
  export: "export",
  // Password re-entry before erasure per user per minute (AUTH_RATE_LIMIT_PER_MINUTE).
  reauth: "reauth",
  // Receipt reads that ask the payment provider (the receipt not stored yet) per user per minute
  // (CHECKOUT_RATE_LIMIT_PER_MINUTE, counted apart from checkouts).
  receipt: "receipt",
} as const;
export type RateLimitPolicy = keyof typeof rateLimitPolicies;

export interface RateLimitState {
  policy: RateLimitPolicy;
  quota: number;
  windowSeconds: number;
  remaining: number;
  resetSeconds: number;
}

// One request's rate-limit state, sent with its response (the last counted policy wins: an
// operation counts against one).
export interface RateLimitJar {
  note(state: RateLimitState): void;
  headers(): [string, string][];
}

export function rateLimitJar(): RateLimitJar {
  let state: RateLimitState | null = null;
  return {
    note(next) {
      state = next;
    },
    headers: () => (state ? rateLimitHeaders(state) : []),
  };
}

export function rateLimitHeaders(state: RateLimitState): [string, string][] {
  const name = `"${rateLimitPolicies[state.policy]}"`;
  return [
    ["RateLimit-Policy", `${name};q=${state.quota};w=${state.windowSeconds}`],
    ["RateLimit", `${name};r=${state.remaining};t=${state.resetSeconds}`],
  ];
}

export const stateOfHit = (policy: RateLimitPolicy, hit: RateLimitResult): RateLimitState => ({
  policy,
  quota: hit.limit,
  windowSeconds: Math.ceil(hit.windowMs / 1000),
  remaining: hit.remaining,
  resetSeconds: hit.resetSeconds,
});

// Counts one call (`consume`, a limiter's hit) and notes the outcome for the response: the state
// after the hit, or none left until Retry-After when the limiter refuses it.
export async function consumeNoted(
  jar: RateLimitJar,
  policy: RateLimitPolicy,
  consume: () => Promise<RateLimitResult>,
): Promise<RateLimitResult> {
  try {
    const hit = await consume();
    jar.note(stateOfHit(policy, hit));
    return hit;
  } catch (error) {
    if (error instanceof RateLimitedError && error.policy) {
      jar.note({
        policy,
        quota: error.policy.limit,
        windowSeconds: Math.ceil(error.policy.windowMs / 1000),
        remaining: 0,
        resetSeconds: error.retryAfterSeconds,
      });
    }
    throw error;
  }
}

// The procedures that count against a policy, and whether every answer past the input check
// carries its headers (`always`) or only those that reached the limiter (a confirm or cancel
// answered from our own row does not count). The document reads this; a procedure declaring
// RATE_LIMITED and missing here fails the document's generation.
export const rateLimitedProcedures: Record<string, { policy: RateLimitPolicy; always: boolean }> = {
  "auth.signUp": { policy: "auth", always: true },
  "auth.logIn": { policy: "auth", always: true },
  "checkout.create": { policy: "checkout", always: true },
  "checkout.confirm": { policy: "checkout", always: false },
  "checkout.cancel": { policy: "checkout", always: false },
  "checkout.payment": { policy: "receipt", always: false },
  "checkout.receipt": { policy: "receipt", always: false },
  "gdpr.confirmDeletion": { policy: "reauth", always: true },
  "gdpr.export": { policy: "export", always: true },
};
