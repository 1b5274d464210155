import { InvalidInputError } from "./errors.ts";
import { MAX_CREDITS_PER_OPERATION, MAX_IDEMPOTENCY_KEY_LENGTH, MAX_REASON_LENGTH } from "./limits.ts";

// The core checks its own inputs even though the API validates them too: the core is also called
// by the CLI, jobs and tests, and a wrong amount here is a wrong balance.
export function assertCredits(amount: number, field = "amount", { allowZero = false } = {}): void {
  const min = allowZero ? 0 : 1;
  if (!Number.isSafeInteger(amount) || amount < min || amount > MAX_CREDITS_PER_OPERATION) {
    throw new InvalidInputError(`${field} must be an integer from ${min} to ${MAX_CREDITS_PER_OPERATION}`);
  }
}

// Ids are UUIDs in the database: anything else is "not found" or invalid input, never a driver error.
export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

// Text the database stores as given: well-formed Unicode (a lone surrogate would be stored as
// U+FFFD, so two different keys could become one) without control characters (PostgreSQL refuses
// NUL outright); a reason may span lines.
export function isStorableText(value: string, { multiline = false } = {}): boolean {
  const controls = multiline ? /[^\P{Cc}\t\n\r]/u : /\p{Cc}/u;
  return value.isWellFormed() && !controls.test(value);
}

export function assertIdempotencyKey(key: string): void {
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new InvalidInputError(`idempotencyKey must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  }
  if (!isStorableText(key)) throw new InvalidInputError("idempotencyKey must be printable text");
}

export function assertReason(reason: string | null | undefined, { required = false } = {}): void {
  if (reason == null || reason.trim() === "") {
    if (required) throw new InvalidInputError("a reason is required");
    return;
  }
  if (reason.length > MAX_REASON_LENGTH) {
    throw new InvalidInputError(`reason must be at most ${MAX_REASON_LENGTH} characters`);
  }
  if (!isStorableText(reason, { multiline: true })) throw new InvalidInputError("reason must be printable text");
}
