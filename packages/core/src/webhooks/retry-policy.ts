// When a failed delivery is tried again: exponential backoff with "equal jitter" (half the step
// fixed, half random), so endpoints coming back after an outage are not hit by every retry at
// once, and the schedule still spans its length. With the defaults (30 s doubling up
// to 6 h; 14 attempts) the last attempt comes 13 to 26 hours after the first.
export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

// The delay after the `attempt`-th failed attempt of a round (1-based); null when it was the last.
export function retryDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number | null {
  if (attempt >= policy.maxAttempts) return null;
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}
