import { useNavigation, useRevalidator } from "@remix-run/react";
import { useEffect, useRef, useState } from "react";

// The live balance: while someone is signed in, the page follows GET /api/v1/me/events and
// reloads its data (header balance, balance card, history, banner) when the balance changes,
// whoever changed it and on whichever server. EventSource reconnects by itself with
// Last-Event-ID; the first event of a connection is the balance the page may already show.
//
// A change the page already shows is not reloaded: Remix clears a form's result (actionData) on
// any later reload, so the page's own spend, heard just after its action's reload, took "Report
// ready" off the screen. An event heard while a navigation or reload runs waits for it to finish,
// then is compared with what it loaded (it may have read the balance before the change).
export function useLiveBalance(shownBalance: number | null): void {
  const revalidator = useRevalidator();
  const navigation = useNavigation();
  const revalidate = useRef(revalidator.revalidate);
  revalidate.current = revalidator.revalidate;
  const idle = navigation.state === "idle" && revalidator.state === "idle";
  // The balance of the newest change heard and not yet compared (a new object per event).
  const [heard, setHeard] = useState<{ balance: number } | null>(null);
  const signedIn = shownBalance !== null;

  useEffect(() => {
    if (!signedIn || typeof EventSource === "undefined") return;
    const source = new EventSource("/api/v1/me/events");
    let lastId: string | null = null;
    source.addEventListener("balance", (event) => {
      const { lastEventId, data } = event as MessageEvent<string>;
      const seen = lastId;
      lastId = lastEventId;
      if (seen !== null && seen !== lastEventId) setHeard({ balance: balanceOf(data) });
    });
    return () => source.close();
  }, [signedIn]);

  useEffect(() => {
    if (!heard || !idle) return;
    setHeard(null);
    if (heard.balance !== shownBalance) revalidate.current();
  }, [heard, idle, shownBalance]);
}

// NaN when the event is not what the server sends: never equal, so the page reloads.
function balanceOf(data: string): number {
  try {
    const balance = (JSON.parse(data) as { balance?: unknown }).balance;
    return typeof balance === "number" ? balance : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
