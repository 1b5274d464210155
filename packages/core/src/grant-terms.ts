import { InvalidInputError, InvalidStateError } from "./errors.ts";
import { type GrantCategory, type GrantTerms, grantCategories, grantTermsOf, sameTerms } from "./grants.ts";
import type { LedgerEntry, LedgerStore } from "./ledger.ts";
import { GRANT_PRIORITY, MAX_GRANT_EXPIRY_DAYS } from "./limits.ts";

// What a caller may say about the grant a credit creates; each part is optional (the kind of
// credit decides the default). Typed loosely on purpose: the CLI, jobs and tests call the core
// without the API's schemas, and a wrong value here is a wrong balance later.
export interface GrantTermsInput {
  category?: unknown;
  priority?: unknown;
  expiresAt?: unknown;
}

const DAY_MS = 86_400_000;
// ISO 8601 with a time and an explicit offset: a date without a zone means a different instant
// on every server.
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

export function hasGrantTerms(input: GrantTermsInput): boolean {
  return input.category !== undefined || input.priority !== undefined || input.expiresAt != null;
}

// The one check of grant terms (API, key grants, admin adjustments, the CLI): the category in the
// core's list, the priority an integer in GRANT_PRIORITY, the expiry a real instant after `now`
// and at most MAX_GRANT_EXPIRY_DAYS away. Returns only the parts that were given.
export function parseGrantTerms(input: GrantTermsInput, now: Date): Partial<GrantTerms> {
  const terms = parseTermsShape(input);
  if (terms.expiresAt) assertExpiryWindow(terms.expiresAt, now);
  return terms;
}

// What the caller gave, checked as values but not against the clock (see assertNewGrantExpiry).
function parseTermsShape(input: GrantTermsInput): Partial<GrantTerms> {
  const terms: Partial<GrantTerms> = {};
  if (input.category !== undefined) terms.category = parseCategory(input.category);
  if (input.priority !== undefined) {
    const p = input.priority;
    if (typeof p !== "number" || !Number.isInteger(p) || p < GRANT_PRIORITY.min || p > GRANT_PRIORITY.max) {
      throw new InvalidInputError(`priority must be an integer from ${GRANT_PRIORITY.min} to ${GRANT_PRIORITY.max}`);
    }
    terms.priority = p;
  }
  if (input.expiresAt != null) terms.expiresAt = parseExpiry(input.expiresAt);
  return terms;
}

// A new credit's expiry is after `now` and at most MAX_GRANT_EXPIRY_DAYS away. Checked only once
// the request's idempotency key has found nothing: a retry of a credit already applied (or
// filed) answers with that result even when its expiresAt has passed since.
export function assertNewGrantExpiry(terms: GrantTerms | null, now: Date): void {
  if (terms?.expiresAt) assertExpiryWindow(terms.expiresAt, now);
}

function parseCategory(value: unknown): GrantCategory {
  const found = grantCategories.find((c) => c === value);
  if (!found) throw new InvalidInputError(`category must be one of ${grantCategories.join(", ")}`);
  return found;
}

// Date.parse rolls a 30 February over into March: a calendar date must exist as written.
function parseInstant(value: string): Date | null {
  const parts = ISO_INSTANT.exec(value);
  if (!parts) return null;
  const [year, month, day, hour, minute] = parts.slice(1, 6).map(Number) as [number, number, number, number, number];
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day || hour > 23 || minute > 59) return null;
  return new Date(value);
}

function parseExpiry(value: unknown): Date {
  const at = value instanceof Date ? value : typeof value === "string" ? parseInstant(value) : null;
  if (!at || Number.isNaN(at.getTime())) {
    throw new InvalidInputError("expiresAt must be an ISO 8601 instant with a time zone");
  }
  return at;
}

function assertExpiryWindow(at: Date, now: Date): void {
  if (at.getTime() <= now.getTime()) throw new InvalidInputError("expiresAt must be in the future");
  if (at.getTime() > now.getTime() + MAX_GRANT_EXPIRY_DAYS * DAY_MS) {
    throw new InvalidInputError(`expiresAt must be within ${MAX_GRANT_EXPIRY_DAYS} days`);
  }
}

// The terms a credit of this kind gets for the parts not given (as the ledger applies them).
export function resolveGrantTerms(
  kind: "purchase" | "grant" | "admin_adjustment",
  terms: Partial<GrantTerms>,
): GrantTerms {
  const resolved = grantTermsOf({ kind, amount: 1, grant: terms });
  if (!resolved) throw new Error(`a ${kind} creates a grant`);
  return resolved;
}

// Approving a request applies exactly its terms, and never a grant already expired.
export function assertNotExpired(terms: GrantTerms, now: Date): void {
  if (terms.expiresAt && terms.expiresAt.getTime() <= now.getTime()) {
    throw new InvalidStateError(
      `the grant would have expired at ${terms.expiresAt.toISOString()}: file a new request with a later expiry`,
    );
  }
}

// The terms of the grant a signed credit creates, from what the caller said; null for a debit,
// which takes from grants and creates none (terms on it are a mistake, not something to ignore).
// Not checked against the clock: the caller does that with assertNewGrantExpiry after its replay
// lookup.
export function creditTerms(
  kind: "grant" | "admin_adjustment",
  amount: number,
  input: GrantTermsInput | undefined,
): GrantTerms | null {
  const given = input ?? {};
  if (amount < 0) {
    if (hasGrantTerms(given)) throw new InvalidInputError("category, priority and expiresAt apply only to a credit");
    return null;
  }
  return resolveGrantTerms(kind, parseTermsShape(given));
}

// Terms are part of a request's identity: a replay of a credit must ask for the terms its ledger
// row's grant was created with. A row from before grants created none: any terms replay it.
export async function sameTermsAsApplied(
  ledger: LedgerStore,
  entry: LedgerEntry,
  terms: GrantTerms | null,
): Promise<boolean> {
  if (terms === null || entry.amount < 0) return terms === null;
  const created = await ledger.findGrantByEntry(entry.id);
  return created === null || sameTerms(created, terms);
}

export function sameOptionalTerms(a: GrantTerms | null, b: GrantTerms | null): boolean {
  return a === null || b === null ? a === b : sameTerms(a, b);
}
