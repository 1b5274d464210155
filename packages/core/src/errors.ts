// Typed domain errors. The API layer maps `code` to a transport status in exactly one place
// (packages/api/src/trpc.ts); nothing here knows about HTTP or tRPC.
export type DomainErrorCode =
  | "INVALID_INPUT"
  | "NOT_FOUND"
  | "INSUFFICIENT_CREDITS"
  | "IDEMPOTENCY_CONFLICT"
  | "INVALID_STATE"
  | "ALREADY_EXISTS"
  | "FORBIDDEN"
  | "UNAUTHENTICATED"
  | "RATE_LIMITED"
  | "LIMIT_EXCEEDED"
  | "PROVIDER_UNAVAILABLE";

export class DomainError extends Error {
  readonly code: DomainErrorCode;
  constructor(code: DomainErrorCode, message: string) {
    super(message);
    this.name = "DomainError";
    this.code = code;
  }
}

export class InvalidInputError extends DomainError {
  constructor(message: string) {
    super("INVALID_INPUT", message);
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string) {
    super("NOT_FOUND", `${what} not found`);
  }
}

export class InsufficientCreditsError extends DomainError {
  readonly balance: number;
  readonly requested: number;
  constructor(balance: number, requested: number) {
    // The message never says the balance: a caller allowed to spend may not be allowed to read it
    // (an API key with credits:spend alone); those who may, ask for it.
    super("INSUFFICIENT_CREDITS", `insufficient credits: requested ${requested}`);
    this.balance = balance;
    this.requested = requested;
  }
}

export class IdempotencyConflictError extends DomainError {
  constructor() {
    super("IDEMPOTENCY_CONFLICT", "this idempotency key was already used with different parameters");
  }
}

// A retry of an adjustment request that was decided against it (rejected) or never decided in time
// (expired): its key is spent, nothing was or will be credited under it (admin/filed-request.ts).
// The API's 409 for a reused key: its documented codes stay as they were (ADR 018, 023).
export class RequestRefusedError extends DomainError {
  constructor(adjustmentRequestId: string, outcome: "rejected" | "expired") {
    const what = outcome === "rejected" ? "was rejected" : "expired undecided";
    super("IDEMPOTENCY_CONFLICT", `adjustment request ${adjustmentRequestId} under this idempotency key ${what}`);
  }
}

export class InvalidStateError extends DomainError {
  constructor(message: string) {
    super("INVALID_STATE", message);
  }
}

export class AlreadyExistsError extends DomainError {
  constructor(message: string) {
    super("ALREADY_EXISTS", message);
  }
}

export class UnauthenticatedError extends DomainError {
  constructor(message = "authentication required") {
    super("UNAUTHENTICATED", message);
  }
}

export class ForbiddenError extends DomainError {
  constructor(message = "not allowed") {
    super("FORBIDDEN", message);
  }
}

export class RateLimitedError extends DomainError {
  readonly retryAfterSeconds: number;
  // The refusing limiter's policy (`limit` hits per `windowMs`); absent for a busy resource.
  readonly policy: { limit: number; windowMs: number } | null;
  constructor(retryAfterSeconds: number, policy: { limit: number; windowMs: number } | null = null) {
    super("RATE_LIMITED", "too many attempts, try again later");
    this.retryAfterSeconds = retryAfterSeconds;
    this.policy = policy;
  }
}

// An API key's own daily limit (set by the admin who made it) is used up until the next UTC day.
export class LimitExceededError extends DomainError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super("LIMIT_EXCEEDED", message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class ProviderUnavailableDomainError extends DomainError {
  constructor(message = "the payment provider is unavailable, try again shortly") {
    super("PROVIDER_UNAVAILABLE", message);
  }
}

// Thrown by a store for a serialization failure or deadlock: the whole transaction may be retried.
export class RetryableStoreError extends Error {
  constructor(cause: unknown) {
    super("transient database conflict", { cause });
    this.name = "RetryableStoreError";
  }
}

// Thrown by a store when the database cannot be reached right now (down, restarting, refusing
// connections, a connection cut under a query): the request may succeed later, so callers answer 503.
export class StoreUnavailableError extends Error {
  constructor(cause: unknown) {
    super("database unavailable", { cause });
    this.name = "StoreUnavailableError";
  }
}

// True for a StoreUnavailableError, also under wrappers that keep it as their `cause`.
export function isStoreUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    if (current instanceof StoreUnavailableError) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
