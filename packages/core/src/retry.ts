import { RetryableStoreError } from "./errors.ts";
import { MAX_TRANSACTION_ATTEMPTS } from "./limits.ts";

// Runs a whole transaction again after a serialization failure or deadlock, a bounded number of
// times, with a short jittered backoff so that the contenders do not collide again in lockstep.
export async function withRetry<T>(run: () => Promise<T>, attempts = MAX_TRANSACTION_ATTEMPTS): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof RetryableStoreError) || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
    }
  }
}
