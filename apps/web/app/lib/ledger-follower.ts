// When the live balance reloads the page's data (live-balance.ts), as a plain state machine: the
// page's loaders read the ledger each in its own statement, at the same time. A change committed
// while they run can reach one loader and not another: the root loader's newest row (what the
// page compares events with) is then newer than the history the page shows, and the event for
// that row, heard later, looked already shown (a hold's release stayed out of the recent history).
//
// So the follower remembers the newest row the page knows of (the last event heard, or the root
// loader's row once a load ends). A load whose root row is not the one known when it began saw
// the ledger move: the page is marked stale, and the next event reloads it even when the root
// already shows its row. That event always comes: the feed sends one for any row newer than the
// last it sent (coalesced to the newest at each poll). Waiting for it, not reloading at once, keeps
// loads at the events' pace while the ledger keeps moving, and loads nothing when the load ended
// signed out (no events). Rows are compared for equality (an id, not an order): a load showing a
// row the page had not heard of, its own action's included, costs one more load at that row's event.

type Step = "reload" | "none";

export interface LedgerFollower {
  // An event named the user's newest ledger row (undefined: an event the page could not read).
  heard(row: string | null | undefined, shown: string | null | undefined, busy: boolean): Step;
  loadStarted(): void;
  // A load (navigation, revalidation, an action's reload) ended with the root loader's row.
  loadEnded(shown: string | null | undefined): void;
}

export function ledgerFollower(initiallyShown: string | null | undefined): LedgerFollower {
  let known = initiallyShown;
  let knownAtStart: typeof known;
  let loading = false;
  let stale = false;
  return {
    heard(row, shown, busy) {
      known = row;
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
      if (!loading) return;
      loading = false;
      // A load that saw no move read everything it shows after the last one: nothing left behind.
      stale = shown !== knownAtStart;
      known = shown;
    },
  };
}
