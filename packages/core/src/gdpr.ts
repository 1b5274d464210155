import { createHmac, timingSafeEqual } from "node:crypto";
import { type Clock, systemClock } from "./clock.ts";
import { InvalidInputError, NotFoundError } from "./errors.ts";
import { type ExportHead, type ExportSection, exportChunks } from "./gdpr-export.ts";
import type { PaymentProvider } from "./payments/provider.ts";
import { withRetry } from "./retry.ts";
import { assertReason } from "./validate.ts";

export interface ErasableUser {
  id: string;
  email: string | null;
  stripeCustomerId: string | null;
  erasedAt: Date | null;
}

export interface GdprStore {
  transaction<T>(work: (tx: GdprStore) => Promise<T>): Promise<T>;
  findUser(userId: string): Promise<ErasableUser | null>;
  lockUser(userId: string): Promise<ErasableUser | null>;
  exportHead(userId: string): Promise<ExportHead | null>;
  // The section's rows in pages of a bounded size, each read when the previous one was consumed.
  exportPages(userId: string, section: ExportSection, head: ExportHead): AsyncIterable<Record<string, unknown>[]>;
  // Ends every session, revokes the user's API keys, drops their queued and kept mail, and clears
  // every personal field of the user row (the row itself stays: payments and the ledger keep
  // pointing at it, pseudonymized).
  eraseUser(userId: string, now: Date): Promise<void>;
  // Drops every stored provider payload linked to the user (their payments' ids, their customer
  // id) or holding one of the given strings, and rate-limit keys holding one of them.
  scrub(userId: string, needles: string[]): Promise<void>;
  // Queues the user's provider customer for deletion at the provider, in the erasure's
  // transaction, counted as tried now (the erasure tries it right after its commit).
  queueCustomerDeletion(userId: string, customerId: string): Promise<void>;
  // Claims one queued customer due for a try (never tried first; a failed one waits 30 s ×
  // 2^tries, at most 6 h): counts the try and stamps it, so other passes and instances skip it.
  claimCustomerToDelete(): Promise<{ customerId: string; tries: number } | null>;
  customerDeleted(customerId: string): Promise<void>;
  recordErasure(audit: {
    actorId: string | null;
    userId: string;
    requestId: string | null;
    reason: string;
  }): Promise<void>;
}

const ERASURE_TOKEN_TTL_MS = 10 * 60_000;
// Queued provider customers deleted per worker pass.
const CUSTOMER_DELETE_BATCH = 20;
// From this many failed deletes of one customer (about two hours of backoff), each failing pass
// is reported as needing a person: the customer may have to be deleted in the provider's dashboard.
export const CUSTOMER_DELETE_ALERT_TRIES = 8;

export type GdprService = ReturnType<typeof createGdprService>;

export function createGdprService(deps: {
  store: GdprStore;
  provider: PaymentProvider;
  clock?: Clock;
  // Mails the confirmation to the erased address once the erasure committed.
  confirmErasure?: (userId: string, address: string) => Promise<void>;
}) {
  const { store, provider } = deps;
  const clock = deps.clock ?? systemClock;
  const customers = customerDeletion(store, provider);

  // The export as JSON text in pieces: the head is read here (an unknown user fails before anything
  // is sent), each page of rows only when the consumer asks for the next piece.
  async function exportDocument(userId: string): Promise<{ exportedAt: string; chunks: AsyncIterable<string> }> {
    const head = await store.exportHead(userId);
    if (!head) throw new NotFoundError("user");
    const exportedAt = clock.now().toISOString();
    return {
      exportedAt,
      chunks: exportChunks(exportedAt, head, (section) => store.exportPages(userId, section, head)),
    };
  }

  // A short-lived confirmation for erasure, bound to the session that re-entered the password:
  // an HMAC keyed by the session token, which only that client and this check ever hold.
  function issueErasureToken(userId: string, sessionToken: string): { token: string; expiresAt: Date } {
    const expiresAt = new Date(clock.now().getTime() + ERASURE_TOKEN_TTL_MS);
    return { token: `${expiresAt.getTime()}.${sign(sessionToken, userId, expiresAt.getTime())}`, expiresAt };
  }

  function assertErasureToken(userId: string, sessionToken: string, token: string): void {
    const [expiry, signature] = token.split(".");
    const expiresAtMs = Number(expiry);
    const expected = Buffer.from(sign(sessionToken, userId, expiresAtMs));
    const given = Buffer.from(signature ?? "");
    const valid = given.length === expected.length && timingSafeEqual(given, expected);
    if (!valid || !Number.isSafeInteger(expiresAtMs) || expiresAtMs < clock.now().getTime()) {
      throw new InvalidInputError("the confirmation is invalid or has expired: confirm with your password again");
    }
  }

  // Erases a user in one transaction: the sessions, API keys, personal fields, the audit row, and
  // the provider customer queued for deletion there, so the erasure completes while the provider
  // is down and the customer is never forgotten (a checkout creating one meanwhile queues its
  // own: PaymentStore.setProviderCustomer). The answer waits for one try of that delete; a failed
  // one is left to the worker's passes. Retried on a deadlock (nothing before it reached the
  // provider). Idempotent.
  async function erase(input: EraseInput) {
    assertReason(input.reason, { required: true });
    const user = await store.findUser(input.userId);
    if (!user) throw new NotFoundError("user");
    if (user.erasedAt) return { erasedAt: user.erasedAt, alreadyErased: true };
    assertConfirmedEmail(user.email, input.confirmEmail);
    const erased = await withRetry(() => store.transaction((tx) => eraseIn(tx, input)));
    if (erased.customer) await customers.deleteNow(erased.customer).catch(() => {});
    if (erased.address) await deps.confirmErasure?.(input.userId, erased.address);
    return { erasedAt: erased.erasedAt, alreadyErased: erased.alreadyErased };
  }

  async function eraseIn(tx: GdprStore, input: EraseInput) {
    const locked = await tx.lockUser(input.userId);
    if (!locked) throw new NotFoundError("user");
    if (locked.erasedAt) return { erasedAt: locked.erasedAt, alreadyErased: true, address: null, customer: null };
    assertConfirmedEmail(locked.email, input.confirmEmail);
    const now = clock.now();
    if (locked.stripeCustomerId) await tx.queueCustomerDeletion(input.userId, locked.stripeCustomerId);
    await tx.eraseUser(input.userId, now);
    await tx.scrub(
      input.userId,
      [locked.email, locked.stripeCustomerId].filter((v): v is string => !!v),
    );
    await tx.recordErasure({
      actorId: input.actorId,
      userId: input.userId,
      requestId: input.requestId ?? null,
      reason: input.reason,
    });
    return { erasedAt: now, alreadyErased: false, address: locked.email, customer: locked.stripeCustomerId };
  }

  return {
    exportDocument,
    issueErasureToken,
    assertErasureToken,
    erase,
    deleteQueuedCustomers: customers.deleteQueued,
  };
}

// Erased users' customers at the provider: each queued one deleted there (one already deleted
// counts as done), then its row.
function customerDeletion(store: GdprStore, provider: PaymentProvider) {
  async function deleteNow(customerId: string): Promise<void> {
    await provider.deleteCustomer(customerId);
    await store.customerDeleted(customerId);
  }

  // The worker's pass: claims one due customer at a time (a claim lasts until its backoff ends, so
  // a slow provider never has two passes on the same customer). Failures stay queued and are
  // reported together; one that failed CUSTOMER_DELETE_ALERT_TRIES times or more is named as
  // needing a person (its row is in provider_customers_to_delete).
  async function deleteQueued(): Promise<{ deleted: number }> {
    const errors: unknown[] = [];
    let [stuck, deleted] = [0, 0];
    for (let claimed = 0; claimed < CUSTOMER_DELETE_BATCH; claimed += 1) {
      const due = await store.claimCustomerToDelete();
      if (!due) break;
      try {
        await deleteNow(due.customerId);
        deleted += 1;
      } catch (error) {
        errors.push(error);
        if (due.tries >= CUSTOMER_DELETE_ALERT_TRIES) stuck += 1;
      }
    }
    if (errors.length > 0) {
      const alert =
        stuck > 0 ? `; ${stuck} failed ${CUSTOMER_DELETE_ALERT_TRIES} times or more: check the provider` : "";
      throw new AggregateError(errors, `${errors.length} erased users' provider customers not deleted yet${alert}`);
    }
    return { deleted };
  }

  return { deleteNow, deleteQueued };
}

interface EraseInput {
  userId: string;
  actorId: string | null;
  requestId?: string | null;
  reason: string;
  // The user's email as the erasing admin typed it, when the caller asks for that confirmation
  // (the admin panel always does): erasure cannot be undone, so the wrong user is refused.
  confirmEmail?: string;
}

// Emails compare trimmed and case-insensitively: what a person types when copying an address.
const sameEmail = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

function assertConfirmedEmail(email: string | null, confirmEmail: string | undefined): void {
  if (confirmEmail === undefined) return;
  if (email === null || !sameEmail(email, confirmEmail)) {
    throw new InvalidInputError("confirmEmail does not match the user's email: nothing was erased");
  }
}

function sign(sessionToken: string, userId: string, expiresAtMs: number): string {
  return createHmac("sha256", sessionToken).update(`erase:${userId}:${expiresAtMs}`).digest("base64url");
}
