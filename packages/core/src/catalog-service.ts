import { randomBytes } from "node:crypto";
import type { AuditAction } from "./admin/audit-actions.ts";
import type { CatalogStore, CatalogTx, CreditPackage, PackageFields, PackagePrice } from "./catalog.ts";
import { undercutCurrencies } from "./catalog-pricing.ts";
import { type Clock, systemClock } from "./clock.ts";
import {
  ForbiddenError,
  IdempotencyConflictError,
  InvalidInputError,
  InvalidStateError,
  NotFoundError,
} from "./errors.ts";
import { MAX_NAME_LENGTH, PACKAGE_LIMITS } from "./limits.ts";
import { currencyProblem, unitAmountProblem } from "./money.ts";
import { withRetry } from "./retry.ts";
import { assertCredits, assertIdempotencyKey, assertText, isUuid } from "./validate.ts";

export interface Actor {
  actorId: string;
  requestId?: string | null;
}

export type CatalogService = ReturnType<typeof createCatalogService>;

// The catalogue: what is sold, at which prices. Admins create, edit and archive packs; every change
// and its audit row commit together. A payment copies what it sells (credits, amount, currency,
// credit expiry) when it is created, so no change here alters a payment already started. A pack
// priced below every pack on sale waits for a second admin (catalog-pricing.ts); an edit cannot
// take a pack on sale there.
export function createCatalogService(deps: { store: CatalogStore; clock?: Clock }) {
  const { store } = deps;
  const clock = deps.clock ?? systemClock;
  const inTransaction = <T>(work: (tx: CatalogTx) => Promise<T>) => withRetry(() => store.transaction(work));

  async function create(actor: Actor, fields: PackageFields, idempotencyKey: string | null = null) {
    assertFields(fields);
    if (idempotencyKey !== null) assertIdempotencyKey(idempotencyKey);
    return inTransaction(async (tx) => {
      const undercut = undercutCurrencies(fields, await tx.listOnSale());
      const inserted = await tx.insertPackage({
        ...fields,
        slug: slugOf(fields.name),
        createdBy: actor.actorId,
        idempotencyKey,
        awaitingApproval: undercut.length > 0,
      });
      if (!inserted) {
        // A retried create: the same request answers the same pack; other fields are a conflict.
        const earlier = idempotencyKey === null ? null : await tx.findPackageByKey(actor.actorId, idempotencyKey);
        if (!earlier || !sameFields(earlier, fields)) throw new IdempotencyConflictError();
        return earlier;
      }
      await tx.audit(
        auditRow(actor, "package.created", {
          packageId: inserted.id,
          after: fieldsOf(inserted),
          ...(undercut.length > 0 ? { awaitingApproval: true, undercut } : {}),
        }),
      );
      return inserted;
    });
  }

  async function update(actor: Actor, id: string, patch: Partial<PackageFields>) {
    assertFields(patch);
    return inTransaction(async (tx) => {
      const before = await locked(tx, id);
      if (before.archivedAt) throw new InvalidStateError("this pack is archived: create a new one instead");
      if (before.awaitingApproval) {
        throw new InvalidStateError(
          "this pack awaits a second admin's approval: approve it, or archive it and create another",
        );
      }
      const changed = changedFields(before, patch);
      if (Object.keys(changed).length === 0) return before;
      if (changed.credits !== undefined || changed.prices !== undefined) await refuseUndercut(tx, before, changed);
      const after = await tx.updatePackage(id, changed);
      await tx.audit(
        auditRow(actor, "package.updated", {
          packageId: id,
          before: pick(fieldsOf(before), changed),
          after: pick(fieldsOf(after), changed),
        }),
      );
      return after;
    });
  }

  // Idempotent: archiving an archived pack answers it unchanged, with no second audit row.
  async function archive(actor: Actor, id: string) {
    return inTransaction(async (tx) => {
      const pack = await locked(tx, id);
      if (pack.archivedAt) return pack;
      const archived = await tx.updatePackage(id, { archivedAt: clock.now() });
      await tx.audit(auditRow(actor, "package.archived", { packageId: id, name: pack.name }));
      return archived;
    });
  }

  // A second admin puts a pack priced below the catalogue on sale; idempotent like archive.
  async function approve(actor: Actor, id: string) {
    return inTransaction(async (tx) => {
      const pack = await locked(tx, id);
      if (pack.archivedAt) throw new InvalidStateError("this pack is archived: create a new one instead");
      if (!pack.awaitingApproval) return pack;
      if (pack.createdBy === actor.actorId) throw new ForbiddenError("you cannot approve a pack you created");
      const approved = await tx.updatePackage(id, { awaitingApproval: false });
      await tx.audit(auditRow(actor, "package.approved", { packageId: id, name: pack.name, after: fieldsOf(pack) }));
      return approved;
    });
  }

  async function locked(tx: CatalogTx, id: string): Promise<CreditPackage> {
    const pack = isUuid(id) ? await tx.lockPackage(id) : null;
    if (!pack) throw new NotFoundError("package");
    return pack;
  }

  return {
    create,
    update,
    archive,
    approve,
    listActive: () => store.listPackages({ onSaleOnly: true }),
    listAll: () => store.listPackages({ onSaleOnly: false }),
  };
}

// An edit of a pack on sale cannot lower its price below every other pack on sale: that waits for a
// second admin, which a new pack gets (the old pack keeps selling meanwhile). A pack already the
// cheapest (approved so) may keep its price or raise it.
async function refuseUndercut(tx: CatalogTx, before: CreditPackage, changed: Partial<PackageFields>): Promise<void> {
  const after = { credits: changed.credits ?? before.credits, prices: changed.prices ?? before.prices };
  const lowered = undercutCurrencies(after, await tx.listOnSale(), before.id).filter((currency) => {
    const was = before.prices.find((p) => p.currency === currency);
    return !was || undercutCurrencies(after, [{ ...before, prices: [was] }]).includes(currency);
  });
  if (lowered.length === 0) return;
  throw new InvalidStateError(
    `this price sells credits below every pack on sale in ${lowered.join(", ")}: create a new pack at it, ` +
      "which a second admin approves",
  );
}

// The price a checkout charges: the one in `currency`, or the pack's default (its first) price.
export function priceOf(pack: CreditPackage, currency: string | null): PackagePrice {
  const price = currency === null ? pack.prices[0] : pack.prices.find((p) => p.currency === currency);
  if (!price) {
    const offered = pack.prices.map((p) => p.currency).join(", ");
    throw new InvalidInputError(`this pack is not priced in ${currency}; it is sold in ${offered}`);
  }
  return price;
}

// The core checks its own inputs (the CLI and tests call it without the API's schemas).
function assertFields(fields: Partial<PackageFields>): void {
  if (fields.name !== undefined) {
    assertText(fields.name, "name", { maxLength: MAX_NAME_LENGTH });
    if (fields.name.trim() === "") throw new InvalidInputError("name must not be empty");
  }
  if (fields.credits !== undefined) assertCredits(fields.credits, "credits");
  if (fields.prices !== undefined) assertPrices(fields.prices);
  if (fields.creditExpiryDays != null)
    assertWithin(fields.creditExpiryDays, "creditExpiryDays", PACKAGE_LIMITS.creditExpiryDays);
  if (fields.position !== undefined) assertWithin(fields.position, "position", PACKAGE_LIMITS.position);
}

function assertPrices(prices: PackagePrice[]): void {
  if (prices.length < 1 || prices.length > PACKAGE_LIMITS.maxPrices) {
    throw new InvalidInputError(`prices must hold 1 to ${PACKAGE_LIMITS.maxPrices} prices`);
  }
  const seen = new Set<string>();
  for (const { currency, unitAmount } of prices) {
    const problem = currencyProblem(currency);
    if (problem) throw new InvalidInputError(`currency ${problem}`);
    if (seen.has(currency)) throw new InvalidInputError(`prices has ${currency} twice: one price per currency`);
    seen.add(currency);
    const amountProblem = unitAmountProblem(currency, unitAmount);
    if (amountProblem) throw new InvalidInputError(`unitAmount ${amountProblem}`);
  }
}

function assertWithin(value: number, field: string, { min, max }: { min: number; max: number }): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidInputError(`${field} must be an integer from ${min} to ${max}`);
  }
}

const FIELDS = ["name", "credits", "prices", "creditExpiryDays", "position", "highlight"] as const;

const fieldsOf = (p: PackageFields): PackageFields => ({
  name: p.name,
  credits: p.credits,
  prices: p.prices.map(({ currency, unitAmount }) => ({ currency, unitAmount })),
  creditExpiryDays: p.creditExpiryDays,
  position: p.position,
  highlight: p.highlight,
});

const sameValue = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

// The fields of `patch` that differ from the pack (prices compared as an ordered list).
function changedFields(pack: CreditPackage, patch: Partial<PackageFields>): Partial<PackageFields> {
  const current = fieldsOf(pack);
  const changed: Record<string, unknown> = {};
  for (const field of FIELDS) {
    if (patch[field] !== undefined && !sameValue(patch[field], current[field])) changed[field] = patch[field];
  }
  return changed as Partial<PackageFields>;
}

const sameFields = (pack: CreditPackage, fields: PackageFields) =>
  Object.keys(changedFields(pack, fields)).length === 0;

function pick(fields: PackageFields, keys: Partial<PackageFields>): Partial<PackageFields> {
  return Object.fromEntries(Object.keys(keys).map((k) => [k, fields[k as keyof PackageFields]]));
}

const auditRow = (
  actor: Actor,
  action: Extract<AuditAction, `package.${string}`>,
  detail: Record<string, unknown>,
) => ({
  actorId: actor.actorId,
  targetUserId: null,
  action,
  amount: null,
  reason: null,
  requestId: actor.requestId ?? null,
  balanceBefore: null,
  balanceAfter: null,
  adjustmentRequestId: null,
  detail,
});

// A readable, stable identifier from the name ("Gold pack" -> "gold-pack-3f9a"): the suffix keeps
// two packs of one name apart; the slug never changes when the pack is renamed.
function slugOf(name: string): string {
  const base = name
    .normalize("NFKD")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
  return `${base || "pack"}-${randomBytes(3).toString("hex")}`;
}
