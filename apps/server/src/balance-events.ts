import { BALANCE_EVENTS_DOC_PATH, readCookie, type Services } from "@credits/api";
import type { Hono, Env as HonoEnv } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import type { BalanceEvent, BalanceFeed } from "./balance-feed.ts";
import { errorResponse } from "./http-errors.ts";

export const BALANCE_EVENTS_PATH = `/api/v1${BALANCE_EVENTS_DOC_PATH}`;

export interface BalanceEventsOptions {
  feed: BalanceFeed;
  services: Pick<Services, "auth" | "credits">;
  cookieName: string;
  heartbeatMs: number;
}

// GET /api/v1/me/events: the signed-in user's balance as server-sent events. Each `balance` event
// is {balance, transactionId} with the ledger row's seq as its id (monotonic per user). On connect
// the current balance is sent unless the client's Last-Event-ID already is the latest row. Session
// cookie only: an API key is for tools, which read the balance when they need it.
export function mountBalanceEvents<E extends HonoEnv>(app: Hono<E>, options: BalanceEventsOptions): void {
  const { feed, services } = options;
  app.get(BALANCE_EVENTS_PATH, async (c) => {
    const token = readCookie(c.req.header("cookie"), options.cookieName);
    const valid = token ? await services.auth.validateSession(token) : null;
    if (!token || !valid) return errorResponse(401, "UNAUTHENTICATED", "sign in to follow your balance");
    const userId = valid.user.id;
    const pending: BalanceEvent[] = [];
    let wake: (() => void) | null = null;
    let stopped = false;
    const unsubscribe = feed.subscribe(userId, {
      onEvent(event) {
        pending.push(event);
        wake?.();
      },
      onStop() {
        stopped = true;
        wake?.();
      },
    });
    if (typeof unsubscribe === "string") {
      const message =
        unsubscribe === "per-user" ? "too many open event streams for this user" : "too many open event streams";
      return errorResponse(429, "RATE_LIMITED", message, { headers: { "Retry-After": "10" } });
    }
    c.header("X-Accel-Buffering", "no");
    return streamSSE(c, async (stream) => {
      stream.onAbort(() => wake?.());
      try {
        let lastSent = lastEventId(c.req.header("last-event-id"));
        // Subscribed first, read second: a posting committed in between arrives as an event too,
        // and the seq comparison drops whichever copy is older.
        const { balance, transactions } = await services.credits.history(userId, { limit: 1 });
        const latest = transactions[0];
        if (lastSent === null || (latest && latest.seq > lastSent)) {
          lastSent = latest?.seq ?? 0;
          await send(stream, lastSent, balance, latest?.id ?? null);
        }
        let nextHeartbeat = Date.now() + options.heartbeatMs;
        while (!stream.aborted && !stream.closed && !stopped) {
          let timer: NodeJS.Timeout | undefined;
          // Events that came while the last ones were written are sent without waiting.
          if (pending.length === 0) {
            await new Promise<void>((resolve) => {
              wake = resolve;
              timer = setTimeout(resolve, Math.max(0, nextHeartbeat - Date.now()));
            });
          }
          clearTimeout(timer);
          wake = null;
          for (const event of pending.splice(0)) {
            if (event.seq <= lastSent) continue;
            lastSent = event.seq;
            await send(stream, event.seq, event.balance, event.transactionId);
          }
          if (Date.now() < nextHeartbeat) continue;
          // Logged out or expired since: the stream ends with the session.
          if (!(await services.auth.validateSession(token))) break;
          await stream.write(": heartbeat\n\n");
          nextHeartbeat = Date.now() + options.heartbeatMs;
        }
      } finally {
        unsubscribe();
      }
    });
  });
}

function send(stream: SSEStreamingApi, seq: number, balance: number, transactionId: string | null) {
  return stream.writeSSE({ event: "balance", id: String(seq), data: JSON.stringify({ balance, transactionId }) });
}

// A ledger seq the client saw last; anything else (absent, hostile, huge) counts as none.
function lastEventId(header: string | undefined): number | null {
  if (!header || !/^\d{1,15}$/.test(header)) return null;
  return Number(header);
}
