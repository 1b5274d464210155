import { RetryableStoreError } from "@credits/core";

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

// Serialization failures and deadlocks become the core's retryable error; the rest pass as is.
export async function translated<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const code = pgError(error)?.code;
    if (code === "40001" || code === "40P01") throw new RetryableStoreError(error);
    throw error;
  }
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
