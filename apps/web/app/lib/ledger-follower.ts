// When the live balance reloads the page's data (live-balance.ts), as a plain state machine: the
// page's loaders read the ledger each in its own statement, at the same time. A change committed
// while they run can reach one loader and not another: the root loader's newest row (what the
// page compares events with) is then newer than the history the page shows, and the event for
// that row, heard later, looked already shown (a hold's release stayed out of the recent history).
//
// So the follower remembers the newest row the page knows of (the last event heard, or the root
// loader's row once a load ends) and, when a load ends, compares: a load whose root row is not the
// one known when it began saw the ledger move, and the page loads once more. That second load
// begins knowing that row, so it settles. One such load per event heard: while the ledger changes
// faster than a load (a busy API user), a load that saw it move again leaves the page marked stale,
// and the next event (the feed sends one for every newer row) reloads even when the root already
// shows its row, so loads follow the events' pace (one per poll interval), not their own. Rows are
// compared for equality (an id, not an order): a load that shows a row the page had not heard of,
// its own action's included, costs one more load.

export type Step = "reload" | "none";

export interface LedgerFollower {
  // An event named the user's newest ledger row (undefined: an event the page could not read).
  heard(row: string | null | undefined, shown: string | null | undefined, busy: boolean): Step;
  loadStarted(): void;
  // A load (navigation, revalidation, an action's reload) ended with the root loader's row.
  loadEnded(shown: string | null | undefined): Step;
}

export function ledgerFollower(initiallyShown: string | null | undefined): LedgerFollower {
  let known = initiallyShown;
  let knownAtStart: typeof known;
  let loading = false;
  let extraLoads = 1;
  let stale = false;
  return {
    heard(row, shown, busy) {
      known = row;
      extraLoads = 1;
      const behind = stale;
      stale = false;
      // While a load runs it may have read the ledger before the row: it restarts (the router keeps
      // a submission's result), and its end is checked against the row.
      if (busy) knownAtStart = row;
      return busy || behind || row !== shown || row === undefined ? "reload" : "none";
    },
    loadStarted() {
      if (loading) return;
      loading = true;
      knownAtStart = known;
    },
    loadEnded(shown) {
      if (!loading) return "none";
      loading = false;
      known = shown;
      if (shown === knownAtStart) return "none";
      if (extraLoads === 0) {
        stale = true;
        return "none";
      }
      extraLoads -= 1;
      return "reload";
    },
  };
}
