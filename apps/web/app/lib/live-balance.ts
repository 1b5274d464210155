import { useRevalidator } from "@remix-run/react";
import { useEffect, useRef } from "react";

// The live balance: while someone is signed in, the page follows GET /api/v1/me/events and
// reloads its data (header balance, balance card, history, banner) when the balance changes,
// whoever changed it and on whichever server. EventSource reconnects by itself with
// Last-Event-ID; the first event of a connection is the balance the page may already show.
export function useLiveBalance(signedIn: boolean): void {
  const revalidator = useRevalidator();
  const revalidate = useRef(revalidator.revalidate);
  revalidate.current = revalidator.revalidate;
  useEffect(() => {
    if (!signedIn || typeof EventSource === "undefined") return;
    const source = new EventSource("/api/v1/me/events");
    let lastId: string | null = null;
    source.addEventListener("balance", (event) => {
      const { lastEventId } = event as MessageEvent;
      const seen = lastId;
      lastId = lastEventId;
      if (seen !== null && seen !== lastEventId) revalidate.current();
    });
    return () => source.close();
  }, [signedIn]);
}
