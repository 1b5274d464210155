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
  // A streamed body longer than OBSERVED_STREAM_BYTES, or one that failed: `body` is not all of it.
  cut?: true;
}

type Observer = (response: ObservedResponse) => void;
const observers = new Set<Observer>();

export function observeResponses(observer: Observer): () => void {
  observers.add(observer);
  return () => observers.delete(observer);
}

// Streamed answers (the GDPR export) are observed alongside the client, never held whole: their
// first OBSERVED_STREAM_BYTES are kept (what the client's branch may queue ahead of it meanwhile).
const OBSERVED_STREAM_BYTES = 1024 * 1024;
const streamed = new WeakSet<Response>();
export function markStreamed(response: Response): Response {
  streamed.add(response);
  return response;
}

async function observeStream(copy: ReadableStream<Uint8Array>, observed: Omit<ObservedResponse, "body">) {
  const reader = copy.getReader();
  const pieces: Uint8Array[] = [];
  let bytes = 0;
  let cut = false;
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      pieces.push(read.value);
      bytes += read.value.length;
      if (bytes > OBSERVED_STREAM_BYTES) {
        cut = true;
        await reader.cancel();
        break;
      }
    }
  } catch {
    cut = true;
  }
  const body = cut ? "" : Buffer.concat(pieces).toString("utf8");
  for (const observer of observers) observer({ ...observed, body, ...(cut ? { cut: true as const } : {}) });
}

// The routes the OpenAPI document describes; the web app's pages are not in it.
const DOCUMENTED = /^\/(api\/v1\/|webhooks\/stripe$|healthz$|readyz$)/;

// Whether any observer listens: the lean route (lean-reads.ts) builds what it reports only then.
export const observing = () => observers.size > 0;

// An answer made outside Hono's middlewares (lean-reads.ts), reported as responseObserver reports.
export function observeAnswer(answer: ObservedResponse) {
  if (observers.size === 0 || !DOCUMENTED.test(answer.path)) return;
  for (const observer of observers) observer(answer);
}

export function responseObserver(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (observers.size === 0 || !DOCUMENTED.test(c.req.path)) return;
    // A stream (the live balance) does not end while the client listens.
    if (c.res.headers.get("content-type")?.startsWith("text/event-stream")) return;
    const head = {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      headers: Object.fromEntries(c.res.headers.entries()),
    };
    if (streamed.has(c.res) && c.res.body) {
      const [client, copy] = c.res.body.tee();
      c.res = new Response(client, c.res);
      void observeStream(copy, head);
      return;
    }
    const body = c.res.body ? await c.res.clone().text() : "";
    for (const observer of observers) observer({ ...head, body });
  };
}
