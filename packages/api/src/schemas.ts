import {
  type AccountEntry,
  type AccountGrant,
  apiKeyScopes,
  type BalanceView,
  type CreditPackage,
  currencyProblem,
  GRANT_PRIORITY,
  type GrantsView,
  grantCategories,
  grantSources,
  HOLD_TTL_SECONDS,
  type Hold,
  holdStatuses,
  ledgerKinds,
  MAX_CREDITS_PER_OPERATION,
  MAX_CURSOR_LENGTH,
  MAX_EMAIL_LENGTH,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_PAGE_SIZE,
  MAX_REASON_LENGTH,
  MAX_UNIT_AMOUNT,
  type PublicUser,
  type TextRules,
  textProblem,
  userRoles,
} from "@credits/core";
import { z } from "zod";
import { isoInstant } from "./iso-instant.ts";

// Inputs are strict objects: an unknown field (a balance, a role, a user id) is a 400, never ignored.
export const credits = z.number().int().min(1).max(MAX_CREDITS_PER_OPERATION);

// The schema of every free-text input (names, reasons, key names, emails, search strings, cursors,
// provider ids): the core's one predicate (textProblem), so the API, the CLI and jobs accept the
// same text. Bad text is a 400 INVALID_INPUT naming what is wrong, never a driver error.
export function text({
  max,
  min = 1,
  multiline = false,
  trim = true,
}: {
  max: number;
  min?: number;
  multiline?: boolean;
  trim?: boolean;
}) {
  const base = trim ? z.string().trim() : z.string();
  return base
    .min(min)
    .max(max)
    .superRefine(storable({ multiline, maxLength: max }));
}

function storable(rules: TextRules) {
  return (value: string, ctx: z.RefinementCtx<string>) => {
    const problem = textProblem(value, rules);
    if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
  };
}

export const idempotencyKey = text({ max: MAX_IDEMPOTENCY_KEY_LENGTH, trim: false });
export const reason = text({ max: MAX_REASON_LENGTH, multiline: true });
export const email = z
  .email()
  .max(MAX_EMAIL_LENGTH)
  .superRefine(storable({ maxLength: MAX_EMAIL_LENGTH }));
// Opaque page cursors: empty means the first page.
export const cursor = text({ max: MAX_CURSOR_LENGTH, min: 0 });
// Lower-cased as read: PostgreSQL compares uuids whatever their case, and the rules that compare
// ids in JavaScript (one's own ledger, a retried request's parameters) must see one spelling.
export const uuid = z.uuid().overwrite((id) => id.toLowerCase());
export const ttlSeconds = z.number().int().min(HOLD_TTL_SECONDS.min).max(HOLD_TTL_SECONDS.max);

// The terms of the grant a credit creates; the core checks them again (grant-terms.ts): an expiry
// in the past or absurdly far is refused there, with the service's clock.
export const grantTermsInput = {
  category: z.enum(grantCategories).optional(),
  priority: z.number().int().min(GRANT_PRIORITY.min).max(GRANT_PRIORITY.max).optional(),
  expiresAt: z.iso
    .datetime({ offset: true })
    .optional()
    .describe("ISO 8601 instant, in the future; the grant's credits are not spendable from then on"),
};

export const historyQuery = z.strictObject({
  limit: z.number().int().min(1).max(MAX_PAGE_SIZE).optional(),
  cursor: cursor.optional(),
  kind: z.array(z.enum(ledgerKinds)).max(ledgerKinds.length).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  order: z.enum(["asc", "desc"]).optional(),
});

export const transactionOutput = z.object({
  id: z.uuid(),
  // An open set (ADR 018): the ledger gains kinds as the product does (refund_reversal, 0027).
  kind: z
    .enum(ledgerKinds)
    .describe("The kind of ledger row; new kinds may be added, so show one you do not know as it is")
    .meta({ "x-extensible-enum": true }),
  amount: z.number().int(),
  balanceAfter: z.number().int(),
  reason: z.string().nullable(),
  paymentId: z.uuid().nullable(),
  holdId: z.uuid().nullable(),
  createdAt: z.iso.datetime(),
  // The grants this row moved: a debit's takings (negative), a credit's grant (positive).
  // With the grant's category and source, so a client can say where credits came from.
  allocations: z.array(
    z.object({
      grantId: z.uuid(),
      amount: z.number().int(),
      category: z.enum(grantCategories),
      source: z.enum(grantSources),
    }),
  ),
});

export const creditGrantOutput = z.object({
  id: z.uuid(),
  category: z.enum(grantCategories),
  priority: z.number().int(),
  remaining: z.number().int(),
  expiresAt: z.iso.datetime().nullable(),
  createdAt: z.iso.datetime(),
});

// The earliest expiry among live grants and how many credits it takes.
const nextExpiryOutput = z.object({ amount: z.number().int(), at: z.iso.datetime() }).nullable();

const grantsOutput = {
  // Live grants, in spending order.
  grants: z.array(creditGrantOutput),
  nextExpiry: nextExpiryOutput,
};

export const balanceOutput = z.object({ balance: z.number().int(), nextExpiry: nextExpiryOutput });

export const historyOutput = z.object({
  balance: z.number().int(),
  ...grantsOutput,
  transactions: z.array(transactionOutput),
  nextCursor: z.string().nullable(),
});

export const creditResultOutput = z.object({ transactionId: z.uuid(), balance: z.number().int() });

export const holdOutput = z.object({
  holdId: z.uuid(),
  userId: z.uuid(),
  amount: z.number().int(),
  status: z.enum(holdStatuses),
  capturedAmount: z.number().int().nullable(),
  // Taken back by a refund or dispute while the hold was open: neither capturable nor returned.
  clawedBack: z.number().int(),
  expiresAt: z.iso.datetime(),
  balance: z.number().int(),
});

export const userOutput = z.object({
  id: z.uuid(),
  email: z.string().nullable(),
  name: z.string().nullable(),
  role: z.enum(userRoles),
  createdAt: z.iso.datetime(),
});

// A currency as prices and checkouts take it: lowercase ISO 4217, one the core can charge in.
export const currency = z
  .string()
  .max(3)
  .superRefine((value, ctx) => {
    const problem = currencyProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
  })
  .describe("lowercase ISO 4217 code, e.g. usd, jpy, kwd");

export const priceInput = z.strictObject({
  currency,
  unitAmount: z
    .number()
    .int()
    .min(1)
    .max(MAX_UNIT_AMOUNT)
    .describe("integer minor units of the currency (cents for usd, yen for jpy, fils for kwd)"),
});

export const priceOutput = z.object({ currency: z.string(), unitAmount: z.number().int() });

export const packageOutput = z.object({
  id: z.uuid(),
  slug: z.string(),
  name: z.string(),
  credits: z.number().int(),
  // Every price, one per currency; the first is the default.
  prices: z.array(priceOutput),
  // The default price, as before packs had several (clients written then read these).
  priceMinor: z.number().int(),
  currency: z.string(),
  // The bought credits expire this many days after the payment; null: never.
  creditExpiryDays: z.number().int().nullable(),
  position: z.number().int(),
  // The "best value" pack.
  highlight: z.boolean(),
});

export const apiKeyScope = z.enum(apiKeyScopes);

// Explicit mappings: a stored row's other columns never reach a response.
export const toTransaction = (entry: AccountEntry): z.infer<typeof transactionOutput> => ({
  id: entry.id,
  kind: entry.kind,
  amount: entry.amount,
  balanceAfter: entry.balanceAfter,
  reason: entry.reason,
  paymentId: entry.paymentId,
  holdId: entry.holdId,
  createdAt: isoInstant(entry.createdAt),
  allocations: entry.allocations.map((a) => ({
    grantId: a.grantId,
    amount: a.amount,
    category: a.category,
    source: a.source,
  })),
});

export const toGrant = (g: AccountGrant): z.infer<typeof creditGrantOutput> => ({
  id: g.id,
  category: g.category,
  priority: g.priority,
  remaining: g.remaining,
  expiresAt: g.expiresAt ? isoInstant(g.expiresAt) : null,
  createdAt: isoInstant(g.createdAt),
});

const toNextExpiry = (next: GrantsView["nextExpiry"]) =>
  next ? { amount: next.amount, at: isoInstant(next.at) } : null;

export const toGrants = (view: GrantsView<AccountGrant>) => ({
  grants: view.grants.map(toGrant),
  nextExpiry: toNextExpiry(view.nextExpiry),
});

export const toBalance = (view: BalanceView): z.infer<typeof balanceOutput> => ({
  balance: view.balance,
  nextExpiry: toNextExpiry(view.nextExpiry),
});

export const toHold = (hold: Hold, balance: number): z.infer<typeof holdOutput> => ({
  holdId: hold.id,
  userId: hold.userId,
  amount: hold.amount,
  status: hold.status,
  capturedAmount: hold.capturedAmount,
  clawedBack: hold.clawedBack,
  expiresAt: hold.expiresAt.toISOString(),
  balance,
});

export const toUser = (user: PublicUser): z.infer<typeof userOutput> => ({
  id: user.id,
  email: user.email,
  name: user.name,
  role: user.role,
  createdAt: user.createdAt.toISOString(),
});

export function toPackage(p: CreditPackage): z.infer<typeof packageOutput> {
  const [first] = p.prices;
  // A pack is never stored without a price (the core refuses it).
  if (!first) throw new Error(`package ${p.id} has no price`);
  return {
    id: p.id,
    slug: p.slug,
    name: p.name,
    credits: p.credits,
    prices: p.prices.map((price) => ({ currency: price.currency, unitAmount: price.unitAmount })),
    priceMinor: first.unitAmount,
    currency: first.currency,
    creditExpiryDays: p.creditExpiryDays,
    position: p.position,
    highlight: p.highlight,
  };
}

export const historyOptions = (query: z.infer<typeof historyQuery>) => ({
  ...(query.limit !== undefined ? { limit: query.limit } : {}),
  ...(query.cursor ? { cursor: query.cursor } : {}),
  ...(query.kind ? { kinds: query.kind } : {}),
  ...(query.from ? { from: new Date(query.from) } : {}),
  ...(query.to ? { to: new Date(query.to) } : {}),
  ...(query.order ? { order: query.order } : {}),
});
