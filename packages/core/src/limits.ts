// Every amount, page and retry has a bound (matching the CHECK constraints in packages/db).
export const MAX_CREDITS_PER_OPERATION = 1_000_000_000;
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;
// Cursors are opaque (core/cursor.ts) but bounded like any text input.
export const MAX_CURSOR_LENGTH = 200;
export const MAX_TRANSACTION_ATTEMPTS = 5;
export const MAX_REASON_LENGTH = 500;
// The longest free text anything accepts unless it says a lower bound (see textProblem).
export const MAX_TEXT_LENGTH = 1_000;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;
export const PASSWORD_LENGTH = { min: 8, max: 200 } as const;
export const MAX_EMAIL_LENGTH = 254;
export const MAX_NAME_LENGTH = 100;
export const MAX_API_KEY_NAME_LENGTH = 100;
// A webhook endpoint's URL, wherever one is typed or checked (router, core, panel).
export const MAX_WEBHOOK_URL_LENGTH = 2_048;
export const HOLD_TTL_SECONDS = { min: 1, default: 3_600, max: 7 * 24 * 3_600 } as const;
export const HOLD_EXPIRY_BATCH = 100;
// An API key's optional limits per UTC day: far above any real day's use, far below the column
// types' bounds.
export const MAX_API_KEY_CREDITS_PER_DAY = 1_000 * MAX_CREDITS_PER_OPERATION;
export const MAX_API_KEY_CALLS_PER_DAY = 100_000_000;
// A grant's priority: lower is spent first (grants.ts).
export const GRANT_PRIORITY = { min: 0, max: 100, default: 50 } as const;
// Users whose due grants one sweeper transaction expires.
export const GRANT_EXPIRY_BATCH = 100;
// The furthest a grant's expiry may lie: further is a typo (a year 20260 date), not a plan.
export const MAX_GRANT_EXPIRY_DAYS = 3_650;
// A user's low-balance threshold (and the instance default): 0 up to one operation's bound.
export const MAX_LOW_BALANCE_THRESHOLD = MAX_CREDITS_PER_OPERATION;
// A credit pack's fields (the API's schemas and the database's CHECKs say the same).
export const PACKAGE_LIMITS = {
  maxPrices: 20,
  position: { min: 0, max: 10_000 },
  creditExpiryDays: { min: 1, max: MAX_GRANT_EXPIRY_DAYS },
} as const;
