import type { LatestPosting } from "@credits/db";

// A balance change as the streams send it: the ledger row's seq (monotonic per user), the balance
// after it and its id.
export type BalanceEvent = LatestPosting;

export interface BalanceListener {
  onEvent(event: BalanceEvent): void;
  // The feed stopped (the server is shutting down): the stream should end.
  onStop(): void;
}

export interface BalanceFeed {
  // An unsubscribe function, or which bound refused the new stream.
  subscribe(userId: string, listener: BalanceListener): (() => void) | "per-user" | "total";
  openStreams(): number;
  stop(): Promise<void>;
}

export interface BalanceFeedOptions {
  // The newest ledger row of each user (packages/db latestPostings), on the primary.
  readLatest: (userIds: readonly string[]) => Promise<LatestPosting[]>;
  perUser: number;
  total: number;
  // How often the users with open streams are read: the live balance's delay at most.
  intervalMs: number;
  onError?: (error: unknown) => void;
}

// Each instance reads, every interval, the newest ledger row of the users whose pages it holds
// open, and hands a row it has not seen to their streams (ADR 020). Postings announce nothing: no
// NOTIFY lock at their commit, no notification queue that could fill and fail them. Any instance
// or path that posted is seen the same way; the cost follows the open streams, not the postings.
export function startBalanceFeed(options: BalanceFeedOptions): BalanceFeed {
  const byUser = new Map<string, Set<BalanceListener>>();
  // The newest seq handed on per watched user: a row is handed on once, whoever reads it again.
  const seen = new Map<string, number>();
  let total = 0;
  let stopped = false;
  let polling: Promise<void> = Promise.resolve();

  async function poll() {
    if (byUser.size === 0) return;
    const rows = await options.readLatest([...byUser.keys()]);
    for (const row of rows) {
      if ((seen.get(row.userId) ?? 0) >= row.seq) continue;
      seen.set(row.userId, row.seq);
      for (const listener of byUser.get(row.userId) ?? []) listener.onEvent(row);
    }
  }
  // The next poll is timed from the end of the last (as the webhook and mail workers do): a slow
  // or stalled database must not queue a poll per interval and flood it with them on recovery.
  let timer: NodeJS.Timeout | undefined;
  function schedule() {
    timer = setTimeout(() => {
      polling = poll()
        .catch((error: unknown) => options.onError?.(error))
        .finally(() => {
          if (!stopped) schedule();
        });
    }, options.intervalMs);
    timer.unref();
  }
  schedule();

  return {
    subscribe(userId, listener) {
      const listeners = byUser.get(userId) ?? new Set<BalanceListener>();
      if (listeners.size >= options.perUser) return "per-user";
      if (total >= options.total || stopped) return "total";
      listeners.add(listener);
      byUser.set(userId, listeners);
      total += 1;
      let subscribed = true;
      return () => {
        if (!subscribed) return;
        subscribed = false;
        total -= 1;
        listeners.delete(listener);
        if (listeners.size > 0) return;
        byUser.delete(userId);
        seen.delete(userId);
      };
    },
    openStreams: () => total,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await polling;
      for (const listeners of byUser.values()) for (const listener of listeners) listener.onStop();
    },
  };
}
