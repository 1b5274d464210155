import { createHmac, timingSafeEqual } from "node:crypto";
import { type Clock, systemClock } from "./clock.ts";
import { InvalidInputError, NotFoundError } from "./errors.ts";
import { type ExportHead, type ExportSection, exportChunks } from "./gdpr-export.ts";
import { type ErasureTask, type ErasureTaskOutcome, type ErasureTaskStore, erasureTasks } from "./gdpr-tasks.ts";
import { type PaymentProvider, ProviderUnavailableError } from "./payments/provider.ts";
import { withRetry } from "./retry.ts";
import { assertReason } from "./validate.ts";

export interface ErasableUser {
  id: string;
  email: string | null;
  stripeCustomerId: string | null;
  erasedAt: Date | null;
}

export interface GdprStore extends ErasureTaskStore {
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
  // Queues, the same way, the user's checkout sessions still open (their payments unpaid, not
  // closed) for expiry at the provider; answers the sessions queued.
  queueSessionExpiries(userId: string): Promise<string[]>;
  recordErasure(audit: {
    actorId: string | null;
    userId: string;
    requestId: string | null;
    reason: string;
  }): Promise<void>;
}

const ERASURE_TOKEN_TTL_MS = 10 * 60_000;

export type GdprService = ReturnType<typeof createGdprService>;

export function createGdprService(deps: {
  store: GdprStore;
  provider: PaymentProvider;
  clock?: Clock;
  // Mails the confirmation to the erased address once the erasure committed.
  confirmErasure?: (userId: string, address: string) => Promise<void>;
  // Sends an erasure refund (ADR 025) the erasure worker found queued: the refund service's.
  sendErasureRefund: (refundId: string) => Promise<ErasureTaskOutcome>;
}) {
  const { store, provider } = deps;
  const clock = deps.clock ?? systemClock;
  const tasks = erasureTasks(store, provider, deps.sendErasureRefund);

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
  // own: PaymentStore.setProviderCustomer). Their checkout sessions still open are queued for
  // expiry the same way: a tab left open must not take money for an account nobody can use (one
  // paid before its expiry is refunded in full when credited: ADR 025). The answer waits for one
  // try of each, sessions first (expired while their customer exists); a failed one is left to the
  // worker's passes, and a provider that does not answer leaves all the rest to them (one timeout,
  // not one per task). Retried on a deadlock (nothing before it reached the provider). Idempotent.
  async function erase(input: EraseInput) {
    assertReason(input.reason, { required: true });
    const user = await store.findUser(input.userId);
    if (!user) throw new NotFoundError("user");
    if (user.erasedAt) return { erasedAt: user.erasedAt, alreadyErased: true };
    assertConfirmedEmail(user.email, input.confirmEmail);
    const erased = await withRetry(() => store.transaction((tx) => eraseIn(tx, input)));
    for (const task of erased.tasks) {
      const unavailable = await tasks.runNow(task).then(
        () => false,
        (error: unknown) => error instanceof ProviderUnavailableError,
      );
      if (unavailable) break;
    }
    if (erased.address) await deps.confirmErasure?.(input.userId, erased.address);
    return { erasedAt: erased.erasedAt, alreadyErased: erased.alreadyErased };
  }

  async function eraseIn(tx: GdprStore, input: EraseInput) {
    const locked = await tx.lockUser(input.userId);
    if (!locked) throw new NotFoundError("user");
    if (locked.erasedAt) return { erasedAt: locked.erasedAt, alreadyErased: true, address: null, tasks: [] };
    assertConfirmedEmail(locked.email, input.confirmEmail);
    const now = clock.now();
    const tasks: ErasureTask[] = (await tx.queueSessionExpiries(input.userId)).map((targetId) => ({
      kind: "expire_session",
      targetId,
    }));
    if (locked.stripeCustomerId) {
      await tx.queueCustomerDeletion(input.userId, locked.stripeCustomerId);
      // After the sessions: a session is expired while its customer still exists.
      tasks.push({ kind: "delete_customer", targetId: locked.stripeCustomerId });
    }
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
    return { erasedAt: now, alreadyErased: false, address: locked.email, tasks };
  }

  return {
    exportDocument,
    issueErasureToken,
    assertErasureToken,
    erase,
    // The worker's pass over the queued provider work (customers, sessions, refunds): customers
    // only with `deleteCustomers` (GDPR_CUSTOMER_DELETE_ENABLED).
    runErasureTasks: tasks.runQueued,
  };
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
