import { RetryableStoreError, StoreUnavailableError } from "@credits/core";

interface PgError {
  code: string;
  constraint?: string;
}

// Finds the PostgreSQL error under the wrappers (drizzle wraps driver errors in `cause`). The
// drivers name the violated constraint differently: postgres.js `constraint_name`, PGlite
// `constraint`.
export function pgError(error: unknown): PgError | null {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const candidate = current as { code?: unknown; constraint?: unknown; constraint_name?: unknown; cause?: unknown };
    if (typeof candidate.code === "string" && /^[0-9A-Z]{5}$/.test(candidate.code)) {
      const constraint = candidate.constraint_name ?? candidate.constraint;
      return { code: candidate.code, ...(typeof constraint === "string" ? { constraint } : {}) };
    }
    current = candidate.cause;
  }
  return null;
}

export function isUniqueViolation(error: unknown, constraint: string): boolean {
  const pg = pgError(error);
  return pg?.code === "23505" && pg.constraint === constraint;
}

// What a store throws for a driver's error, in the core's terms: a serialization failure or
// deadlock is retryable, an unreachable database is unavailable; the rest pass as is.
export function storeError(error: unknown): unknown {
  if (error instanceof RetryableStoreError || error instanceof StoreUnavailableError) return error;
  const code = pgError(error)?.code;
  if (code === "40001" || code === "40P01") return new RetryableStoreError(error);
  if (isDatabaseUnavailable(error)) return new StoreUnavailableError(error);
  return error;
}

export async function translated<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw storeError(error);
  }
}

// Every method of a store throws storeError's translation, so the layers above see the core's
// error types and never need to know the driver.
export function translatingErrors<T extends object>(store: T): T {
  const wrapped: Record<string, unknown> = { ...(store as Record<string, unknown>) };
  for (const [name, method] of Object.entries(store)) {
    if (typeof method !== "function") continue;
    wrapped[name] = (...args: unknown[]) => {
      try {
        const result: unknown = method.apply(store, args);
        return isThenable(result)
          ? Promise.resolve(result).catch((error: unknown) => Promise.reject(storeError(error)))
          : result;
      } catch (error) {
        throw storeError(error);
      }
    };
  }
  return wrapped as T;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

// The database cannot be reached right now (down, restarting, refusing connections, the
// connection cut under a query): the request may succeed later, so callers answer 503.
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && (CONNECTION_CODES.has(code) || /^(08|57P0|53300)/.test(code))) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
