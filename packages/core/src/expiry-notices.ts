import type { Clock } from "./clock.ts";
import type { OutboxStore } from "./events/events.ts";
import { withRetry } from "./retry.ts";

// credits.expiring: a grant with credits left is announced (webhook event and email) once,
// noticeDays before its expiresAt. Every instance's sweeper runs this; the store reads due grants
// (FOR KEY SHARE: a spend of them never waits for the batch) and records one notice per grant (its
// primary key, ON CONFLICT DO NOTHING), and only the
// notices this transaction recorded raise the event and the mail, in that same transaction: once
// across instances. A grant spent to 0 before its notice is not due, so it raises nothing.

export interface DueExpiry {
  grantId: string;
  userId: string;
  // The grant's remainder when the notice was recorded.
  amount: number;
  expiresAt: Date;
}

export interface ExpiryNoticeTx {
  // Records the notices of up to `limit` grants with credits left expiring in (now, horizon] that
  // have none, skipping grants another transaction holds; answers those it recorded.
  recordDue(now: Date, horizon: Date, limit: number): Promise<DueExpiry[]>;
  outbox: OutboxStore;
  // The email: one per grant (its cause is the grant).
  queueMail(notice: DueExpiry): Promise<void>;
}

export interface ExpiryNoticeStore {
  transaction<T>(work: (tx: ExpiryNoticeTx) => Promise<T>): Promise<T>;
}

export const EXPIRY_NOTICE_BATCH = 100;
export const MAX_EXPIRY_NOTICE_DAYS = 365;

export function createExpiryNotifier(deps: { store: ExpiryNoticeStore; clock: Clock; noticeDays: number }) {
  const { store, clock, noticeDays } = deps;
  if (!Number.isSafeInteger(noticeDays) || noticeDays < 1 || noticeDays > MAX_EXPIRY_NOTICE_DAYS) {
    throw new Error(`noticeDays must be a whole number of days from 1 to ${MAX_EXPIRY_NOTICE_DAYS}`);
  }

  async function batch(): Promise<number> {
    const now = clock.now();
    const horizon = new Date(now.getTime() + noticeDays * 86_400_000);
    return store.transaction(async (tx) => {
      const due = await tx.recordDue(now, horizon, EXPIRY_NOTICE_BATCH);
      for (const notice of due) {
        await tx.outbox.emit({
          type: "credits.expiring",
          userId: notice.userId,
          at: now,
          data: {
            userId: notice.userId,
            grantId: notice.grantId,
            amount: notice.amount,
            expiresAt: notice.expiresAt.toISOString(),
          },
        });
        await tx.queueMail(notice);
      }
      return due.length;
    });
  }

  // Announces every grant due now; answers how many.
  async function runOnce(): Promise<number> {
    let total = 0;
    for (;;) {
      const count = await withRetry(batch);
      total += count;
      if (count < EXPIRY_NOTICE_BATCH) return total;
    }
  }

  return { runOnce };
}

export type ExpiryNotifier = ReturnType<typeof createExpiryNotifier>;
