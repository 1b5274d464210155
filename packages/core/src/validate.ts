import { InvalidInputError } from "./errors.ts";
import {
  DEFAULT_PAGE_SIZE,
  MAX_CREDITS_PER_OPERATION,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_PAGE_SIZE,
  MAX_REASON_LENGTH,
  MAX_TEXT_LENGTH,
} from "./limits.ts";

// The core checks its own inputs even though the API validates them too: the core is also called
// by the CLI, jobs and tests, and a wrong amount here is a wrong balance.
export function assertCredits(amount: number, field = "amount", { allowZero = false } = {}): void {
  const min = allowZero ? 0 : 1;
  if (!Number.isSafeInteger(amount) || amount < min || amount > MAX_CREDITS_PER_OPERATION) {
    throw new InvalidInputError(`${field} must be an integer from ${min} to ${MAX_CREDITS_PER_OPERATION}`);
  }
}

// Ids are UUIDs in the database: anything else is "not found" or invalid input, never a driver error.
// The size of a page of any list the core serves: the list's default when none is asked for.
export function pageLimit(limit: number | undefined, fallback = DEFAULT_PAGE_SIZE): number {
  const value = limit ?? fallback;
  if (!Number.isInteger(value) || value < 1 || value > MAX_PAGE_SIZE) {
    throw new InvalidInputError(`limit must be from 1 to ${MAX_PAGE_SIZE}`);
  }
  return value;
}

export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

// Whether two ids name the same row: PostgreSQL compares uuids whatever their case, so a rule that
// compares them in JavaScript (one's own ledger, one's own key's owner) must too, or the same user
// in upper case slips past it. The API lower-cases every uuid it reads; the core does not rely on it.
export function sameId(a: string | null | undefined, b: string | null | undefined): boolean {
  return a != null && b != null && a.toLowerCase() === b.toLowerCase();
}

// Bidirectional formatting characters (LRE, RLE, PDF, LRO, RLO, the isolates LRI, RLI, FSI, PDI,
// and the marks LRM, RLM, ALM): they reorder how the text around them is displayed, so a name or
// reason could read as something it is not in an admin page or a terminal ("Trojan Source").
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
const CONTROLS = /\p{Cc}/u;
// A reason may span lines: tab, line feed and carriage return are the only controls it keeps.
const CONTROLS_BUT_LINE_BREAKS = /[^\P{Cc}\t\n\r]/u;

export interface TextRules {
  // Tab, newline and carriage return allowed (reasons).
  multiline?: boolean;
  // In UTF-16 code units, as JavaScript and JSON Schema's maxLength count.
  maxLength?: number;
}

// The one definition of free text the platform accepts and stores (names, reasons, key names,
// emails, search strings, cursors): bounded, well-formed Unicode (a lone surrogate would be stored
// as U+FFFD, so two different keys could become one, and PostgreSQL refuses some outright), no
// control characters (PostgreSQL refuses NUL; the others corrupt logs and terminals), no
// bidirectional controls. Null when the text is acceptable, else what is wrong with it.
export function textProblem(value: string, { multiline = false, maxLength = MAX_TEXT_LENGTH }: TextRules = {}) {
  if (value.length > maxLength) return `must be at most ${maxLength} characters`;
  if (!value.isWellFormed()) return "must be well-formed Unicode (no lone surrogates)";
  if ((multiline ? CONTROLS_BUT_LINE_BREAKS : CONTROLS).test(value)) return "must not contain control characters";
  if (BIDI_CONTROLS.test(value)) return "must not contain bidirectional control characters";
  return null;
}

export function isStorableText(value: string, rules: TextRules = {}): boolean {
  return textProblem(value, rules) === null;
}

// For the core's own inputs (the CLI and jobs call the core without the API's schemas).
export function assertText(value: string, field: string, rules: TextRules = {}): void {
  const problem = textProblem(value, rules);
  if (problem) throw new InvalidInputError(`${field} ${problem}`);
}

export function assertIdempotencyKey(key: string): void {
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new InvalidInputError(`idempotencyKey must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  }
  assertText(key, "idempotencyKey", { maxLength: MAX_IDEMPOTENCY_KEY_LENGTH });
  // Such a key's unscoped legacy form would be another caller's scoped key (ledger-keys.ts).
  if (SCOPED_KEY_FORM.test(key)) throw new InvalidInputError("idempotencyKey must not start with a caller scope");
}

const SCOPED_KEY_FORM = /^[ku]:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:/i;

export function assertReason(reason: string | null | undefined, { required = false } = {}): void {
  if (reason == null || reason.trim() === "") {
    if (required) throw new InvalidInputError("a reason is required");
    return;
  }
  assertText(reason, "reason", { multiline: true, maxLength: MAX_REASON_LENGTH });
}
