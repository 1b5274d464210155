import type { MiddlewareHandler } from "hono";

// A test seam: the contract test (apps/server/test/contract) records every answer the servers of
// a test process give, to check each against the OpenAPI document. Without an observer (always,
// outside tests) this costs one Set size check per request.
export interface ObservedResponse {
  method: string;
  path: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

type Observer = (response: ObservedResponse) => void;
const observers = new Set<Observer>();

export function observeResponses(observer: Observer): () => void {
  observers.add(observer);
  return () => observers.delete(observer);
}

// The routes the OpenAPI document describes; the web app's pages are not in it.
const DOCUMENTED = /^\/(api\/v1\/|webhooks\/stripe$|healthz$|readyz$)/;

export function responseObserver(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (observers.size === 0 || !DOCUMENTED.test(c.req.path)) return;
    // A stream (the live balance) does not end while the client listens.
    if (c.res.headers.get("content-type")?.startsWith("text/event-stream")) return;
    const body = c.res.body ? await c.res.clone().text() : "";
    const observed: ObservedResponse = {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      headers: Object.fromEntries(c.res.headers.entries()),
      body,
    };
    for (const observer of observers) observer(observed);
  };
}
