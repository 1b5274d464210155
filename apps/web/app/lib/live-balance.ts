import { useNavigation, useRevalidator } from "@remix-run/react";
import { useEffect, useRef } from "react";
import { ledgerFollower } from "./ledger-follower.ts";

// The live balance: while someone is signed in, the page follows GET /api/v1/me/events and
// reloads its data (header balance, balance card, history, banner) when the ledger changes,
// whoever changed it and on whichever server. Each event names the user's newest ledger row
// (EventSource reconnects by itself with Last-Event-ID; a connection's first event is the newest
// row then).
//
// Idle, the page reloads unless its root data already ends with that row: the page's own spend,
// heard after its action's reload, needs no second one (Remix clears a form's result on a reload;
// the routes keep theirs, action-result.ts, which also covers the reloads that do happen). The row, not the balance: a hold and its
// release, or an expiry the balance already left out, change the history, not the balance. While
// a navigation or reload runs, it may have read the ledger before the row: the router restarts its
// loads (keeping a submission's result). After a load that saw the ledger move while it ran, the
// next event reloads whatever it names (ledger-follower.ts).
export function useLiveBalance(signedIn: boolean, newestTransactionId: string | null): void {
  const revalidator = useRevalidator();
  const navigation = useNavigation();
  const rendered = useRef({ revalidate: revalidator.revalidate, busy: false, shown: newestTransactionId });
  rendered.current = {
    revalidate: revalidator.revalidate,
    busy: navigation.state !== "idle" || revalidator.state !== "idle",
    shown: newestTransactionId,
  };
  useEffect(() => {
    if (!signedIn || typeof EventSource === "undefined") return;
    const follower = ledgerFollower(rendered.current.shown);
    const router = remixRouter();
    const unsubscribe = router?.subscribe((state) => {
      const { busy, shown } = stateOf(state);
      if (busy) follower.loadStarted();
      else follower.loadEnded(shown);
    });
    const source = new EventSource("/api/v1/me/events");
    source.addEventListener("balance", (event) => {
      const { revalidate, busy, shown } = { ...rendered.current, ...(router ? stateOf(router.state) : {}) };
      const row = transactionIdOf((event as MessageEvent<string>).data);
      if (follower.heard(row, shown, busy) === "reload") revalidate();
    });
    return () => {
      source.close();
      unsubscribe?.();
    };
  }, [signedIn]);
}

interface RouterState {
  navigation: { state: string };
  revalidation: string;
  loaderData: { root?: { newestTransactionId?: string | null } };
}

interface Router {
  state: RouterState;
  subscribe(listener: (state: RouterState) => void): () => void;
}

// Remix's router. Remix renders router changes in a transition, so what this hook last rendered
// can lag: an event heard between the action's reload and that render looked busy, and its reload
// cleared the result; and a load can start and end between two renders. Remix's browser entry
// keeps the router on window (the browser tests read it too); without it, the rendered values
// stand and no load's end is checked.
const remixRouter = () => (window as { __remixRouter?: Router }).__remixRouter;

function stateOf({ navigation, revalidation, loaderData }: RouterState) {
  return {
    busy: navigation.state !== "idle" || revalidation !== "idle",
    shown: loaderData.root?.newestTransactionId,
  };
}

// The event's newest ledger row (null for a user with none); undefined when the event is not
// what the server sends: never equal to what the page shows, so the page reloads.
function transactionIdOf(data: string): string | null | undefined {
  try {
    const id = (JSON.parse(data) as { transactionId?: unknown }).transactionId;
    return typeof id === "string" || id === null ? id : undefined;
  } catch {
    return undefined;
  }
}
