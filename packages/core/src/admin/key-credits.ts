import { randomUUID } from "node:crypto";
import { type ApiKeyUsageStore, countUse, type KeyUsage } from "../auth/api-key-limits.ts";
import type { ApiKeyPrincipal } from "../auth/api-keys.ts";
import { type Clock, systemClock } from "../clock.ts";
import { IdempotencyConflictError, NotFoundError } from "../errors.ts";
import type { OutboxStore } from "../events/events.ts";
import {
  assertNewGrantExpiry,
  creditTerms,
  type GrantTermsInput,
  sameOptionalTerms,
  sameTermsAsApplied,
} from "../grant-terms.ts";
import type { GrantTerms } from "../grants.ts";
import { invariant } from "../invariant.ts";
import type { LedgerEntry, LedgerStore } from "../ledger.ts";
import { type ClientKey, clientKey } from "../ledger-keys.ts";
import { withRetry } from "../retry.ts";
import { assertCredits, assertIdempotencyKey, assertReason, sameId } from "../validate.ts";
import { emitAdjustmentPending } from "./adjustment-events.ts";
import { exceedsApprovalWindow } from "./approval-window.ts";
import { type AdjustResult, answerOfFiled } from "./filed-request.ts";
import { termColumns, termsOfRequest } from "./request-terms.ts";
import type { AdjustmentRequest, AdminStore } from "./store.ts";

export interface KeyCreditsTx {
  admin: AdminStore;
  ledger: LedgerStore;
  outbox: OutboxStore;
  usage: ApiKeyUsageStore;
}

export interface KeyCreditsStore {
  transaction<T>(work: (tx: KeyCreditsTx) => Promise<T>): Promise<T>;
  usage: ApiKeyUsageStore;
  ledger: LedgerStore;
}

export interface KeyGrantInput {
  userId: string;
  amount: number;
  idempotencyKey: string;
  reason?: string | null;
  requestId?: string | null;
  terms?: GrantTermsInput;
}

// A grant as a request keeps: its terms resolved, its reason (or the key's default) settled.
type GrantRequest = Omit<KeyGrantInput, "terms" | "reason"> & { terms: GrantTerms | null; reason: string };

export type KeyGrantResult = AdjustResult;

export type KeyCreditsService = ReturnType<typeof createKeyCreditsService>;

// The approval rule a key's grant is held to, as an admin adjustment is (admin.ts).
interface GrantRules {
  clock: Clock;
  approvalThreshold: number;
  approvalTtlMs: number;
  approvalWindowMs: number;
}

// Credits moved through an API key answer to the admin who owns it: a grant is held to the rule of
// an admin adjustment by that admin (above the approval threshold, alone or with the user's other
// unapproved moves within the window, or to the owner themself, it is only a request another admin
// must approve), writes its audit row (the key and its owner) in the ledger row's transaction, and
// counts against the key's daily limits.
export function createKeyCreditsService(deps: Omit<GrantRules, "clock"> & { store: KeyCreditsStore; clock?: Clock }) {
  const { store } = deps;
  const rules: GrantRules = { ...deps, clock: deps.clock ?? systemClock };
  const inTransaction = <T>(work: (tx: KeyCreditsTx) => Promise<T>) => withRetry(() => store.transaction(work));

  async function grant(key: ApiKeyPrincipal, input: KeyGrantInput): Promise<KeyGrantResult> {
    assertCredits(input.amount);
    assertIdempotencyKey(input.idempotencyKey);
    assertReason(input.reason);
    // Resolved now (a grant's defaults, not an adjustment's): a request keeps exactly these.
    const terms = creditTerms("grant", input.amount, input.terms);
    const ledgerKey = clientKey({ kind: "apiKey", id: key.id }, input.idempotencyKey);
    const reason = input.reason?.trim() || null;
    const request = { ...input, terms, reason: reason ?? `grant through API key ${key.id}` };
    if (input.amount > deps.approvalThreshold || sameId(input.userId, key.ownerUserId)) {
      return inTransaction((tx) => requestApproval(tx, rules, key, request, ledgerKey, reason));
    }
    return inTransaction((tx) => grantUnderThreshold(tx, rules, key, request, ledgerKey, reason));
  }

  // Spends and holds run on the credit service's own path (group commit); a key with a spend limit
  // first counts the use in one conditional statement and takes it back if the operation is
  // refused. A retry of an applied request (`alreadyApplied`) is not counted again; two concurrent
  // retries, or a crash between counting and posting, can only over-count, never let more through.
  async function metered<T>(
    key: ApiKeyPrincipal,
    amount: number,
    alreadyApplied: (ledger: LedgerStore) => Promise<boolean>,
    run: () => Promise<T>,
  ): Promise<T> {
    let usage: KeyUsage | null = null;
    if (key.limits.spendCreditsPerDay !== null || key.limits.spendCallsPerDay !== null) {
      if (!(await alreadyApplied(store.ledger))) usage = await countUse(store.usage, rules.clock, key, "spend", amount);
    }
    try {
      return await run();
    } catch (error) {
      if (usage) await store.usage.uncount(usage);
      throw error;
    }
  }

  return { grant, metered };
}

async function grantUnderThreshold(
  tx: KeyCreditsTx,
  rules: GrantRules,
  key: ApiKeyPrincipal,
  input: GrantRequest,
  ledgerKey: ClientKey,
  // As given (null: none), which is what the ledger row keeps.
  reason: string | null,
): Promise<KeyGrantResult> {
  const { clock } = rules;
  const { terms } = input;
  const at = clock.now();
  // The user's balance lock serializes their grants and adjustments: two concurrent small
  // grants cannot both see room for themselves in the window.
  const before = await tx.ledger.lockBalance(input.userId, at);
  if (before === null) throw new NotFoundError("user");
  const replay = (await tx.ledger.findEntryByKey(ledgerKey.key)) ?? (await tx.ledger.findEntryByKey(ledgerKey.legacy));
  if (replay) return replayOf(tx.ledger, replay, input, reason, terms);
  // The same key already filed a request (the window was full then, or another threshold).
  const filed = await tx.admin.findAdjustmentRequestByKey(ledgerKey.key);
  if (filed) return sameRequest(tx.ledger, filed, key, input, clock.now());
  if (await exceedsApprovalWindow(tx.admin, input, rules)) return fileRequest(tx, rules, key, input, ledgerKey);
  assertNewGrantExpiry(terms, at);
  await countUse(tx.usage, clock, key, "grant", input.amount);
  const actionId = randomUUID();
  const entry = await tx.ledger.post({
    userId: input.userId,
    amount: input.amount,
    kind: "grant",
    idempotencyKey: ledgerKey.key,
    legacyKey: ledgerKey.legacy,
    reason,
    adminActionId: actionId,
    at,
    ...(terms ? { grant: terms } : {}),
  });
  invariant(entry, `grant to user ${input.userId} was not applied`);
  await tx.admin.insertAction({
    id: actionId,
    actorId: key.ownerUserId,
    targetUserId: input.userId,
    action: "api_key.grant",
    amount: input.amount,
    reason,
    requestId: input.requestId ?? null,
    balanceBefore: before,
    balanceAfter: entry.balanceAfter,
    adjustmentRequestId: null,
    apiKeyId: key.id,
    detail: { keyName: key.name },
  });
  return { status: "applied", transactionId: entry.id, balance: entry.balanceAfter };
}

// A pending adjustment request by the key's owner: applied only when another admin, who is not
// its beneficiary either, approves it (admin.ts).
async function requestApproval(
  tx: KeyCreditsTx,
  rules: GrantRules,
  key: ApiKeyPrincipal,
  input: GrantRequest,
  ledgerKey: ClientKey,
  // As given (null: none), which is what an applied grant's ledger row keeps.
  reason: string | null,
): Promise<KeyGrantResult> {
  if ((await tx.ledger.lockBalance(input.userId)) === null) throw new NotFoundError("user");
  // Applied before under this key (a higher threshold then, or before keys were scoped): that
  // grant (ADR 023), as an adjustment's retry is (admin.ts), never also a request that could be
  // approved into a second credit.
  const applied = (await tx.ledger.findEntryByKey(ledgerKey.key)) ?? (await tx.ledger.findEntryByKey(ledgerKey.legacy));
  if (applied) return replayOf(tx.ledger, applied, input, reason, input.terms);
  const filed = await tx.admin.findAdjustmentRequestByKey(ledgerKey.key);
  if (filed) return sameRequest(tx.ledger, filed, key, input, rules.clock.now());
  return fileRequest(tx, rules, key, input, ledgerKey);
}

// Under the user's balance lock, with no ledger row or request under this key yet.
async function fileRequest(
  tx: KeyCreditsTx,
  rules: GrantRules,
  key: ApiKeyPrincipal,
  input: GrantRequest,
  ledgerKey: ClientKey,
): Promise<KeyGrantResult> {
  const { clock } = rules;
  assertNewGrantExpiry(input.terms, clock.now());
  const created = await tx.admin.insertAdjustmentRequest({
    requestedBy: key.ownerUserId,
    targetUserId: input.userId,
    amount: input.amount,
    reason: input.reason,
    idempotencyKey: ledgerKey.key,
    expiresAt: new Date(clock.now().getTime() + rules.approvalTtlMs),
    ...termColumns(input.terms),
  });
  if (!created) {
    const existing = await tx.admin.findAdjustmentRequestByKey(ledgerKey.key);
    if (!existing) throw new IdempotencyConflictError();
    return sameRequest(tx.ledger, existing, key, input, clock.now());
  }
  // A request moves nothing, but it counts: a key cannot file requests past its limits.
  await countUse(tx.usage, clock, key, "grant", input.amount);
  await tx.admin.insertAction({
    actorId: key.ownerUserId,
    targetUserId: input.userId,
    action: "adjustment_requested",
    amount: input.amount,
    reason: input.reason,
    requestId: input.requestId ?? null,
    balanceBefore: null,
    balanceAfter: null,
    adjustmentRequestId: created.id,
    apiKeyId: key.id,
    detail: { keyName: key.name },
  });
  await emitAdjustmentPending(tx.outbox, created);
  return { status: "pending", adjustmentRequest: created };
}

// A retry of a filed request: what became of it (filed-request.ts), or a conflict.
function sameRequest(
  ledger: LedgerStore,
  existing: AdjustmentRequest,
  key: ApiKeyPrincipal,
  input: GrantRequest,
  now: Date,
): Promise<KeyGrantResult> {
  const same =
    existing.requestedBy === key.ownerUserId &&
    existing.targetUserId === input.userId &&
    existing.amount === input.amount &&
    existing.reason === input.reason &&
    sameOptionalTerms(termsOfRequest(existing), input.terms);
  if (!same) throw new IdempotencyConflictError();
  return answerOfFiled(ledger, existing, now);
}

async function replayOf(
  ledger: LedgerStore,
  entry: LedgerEntry,
  input: Pick<KeyGrantInput, "userId" | "amount">,
  reason: string | null,
  terms: GrantTerms | null,
): Promise<KeyGrantResult> {
  if (
    entry.kind !== "grant" ||
    entry.userId !== input.userId ||
    entry.amount !== input.amount ||
    (entry.reason ?? null) !== reason ||
    !(await sameTermsAsApplied(ledger, entry, terms))
  ) {
    throw new IdempotencyConflictError();
  }
  return { status: "applied", transactionId: entry.id, balance: entry.balanceAfter };
}
