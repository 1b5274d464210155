import type { DatabaseHandle } from "@credits/db";
import { z } from "zod";

// The channel the ledger trigger (migration 0010, ledger_announce) notifies on, at commit of
// every posting, whichever instance or path made it.
export const BALANCE_CHANNEL = "balance_changed";

const balanceEvent = z.object({
  userId: z.uuid(),
  seq: z.number().int().positive(),
  balance: z.number().int(),
  transactionId: z.uuid(),
});
export type BalanceEvent = z.infer<typeof balanceEvent>;

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

// One LISTEN per instance, fanned out in memory to the streams of the users it concerns: a
// notification for a user nobody here watches costs a map lookup.
export async function startBalanceFeed(
  listen: DatabaseHandle["listen"],
  limits: { perUser: number; total: number },
): Promise<BalanceFeed> {
  const byUser = new Map<string, Set<BalanceListener>>();
  let total = 0;
  const unlisten = await listen(BALANCE_CHANNEL, (payload) => {
    const parsed = balanceEvent.safeParse(safeJson(payload));
    if (!parsed.success) return;
    for (const listener of byUser.get(parsed.data.userId) ?? []) listener.onEvent(parsed.data);
  });
  return {
    subscribe(userId, listener) {
      const listeners = byUser.get(userId) ?? new Set<BalanceListener>();
      if (listeners.size >= limits.perUser) return "per-user";
      if (total >= limits.total) return "total";
      listeners.add(listener);
      byUser.set(userId, listeners);
      total += 1;
      let subscribed = true;
      return () => {
        if (!subscribed) return;
        subscribed = false;
        total -= 1;
        listeners.delete(listener);
        if (listeners.size === 0) byUser.delete(userId);
      };
    },
    openStreams: () => total,
    async stop() {
      for (const listeners of byUser.values()) for (const listener of listeners) listener.onStop();
      await unlisten();
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
