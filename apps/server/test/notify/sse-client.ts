// A server-sent events reader for tests: the raw stream of a real HTTP response, parsed into
// events (comments kept apart, as heartbeats).
export interface SseEvent {
  event: string;
  id: string | null;
  data: string;
}

export interface SseStream {
  status: number;
  headers: Headers;
  // The next event, or a rejection after `timeoutMs`.
  next(timeoutMs?: number): Promise<SseEvent>;
  // Resolves when the server ends the stream.
  ended: Promise<void>;
  heartbeats(): number;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { accept: "text/event-stream", ...headers },
    signal: controller.signal,
  });
  const queue: SseEvent[] = [];
  const waiters: Array<() => void> = [];
  let heartbeats = 0;
  let buffer = "";
  const notify = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  const ended = (async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end = buffer.indexOf("\n\n");
        while (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.startsWith(":")) heartbeats += 1;
          else queue.push(parse(block));
          end = buffer.indexOf("\n\n");
        }
        notify();
      }
    } catch {
      // Aborted by close().
    }
    notify();
  })();
  return {
    status: response.status,
    headers: response.headers,
    ended,
    heartbeats: () => heartbeats,
    close: () => controller.abort(),
    async next(timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (queue.length === 0) {
        if (Date.now() >= deadline) throw new Error("no event in time");
        await Promise.race([
          new Promise<void>((resolve) => waiters.push(resolve)),
          new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now()))),
        ]);
      }
      return queue.shift() as SseEvent;
    },
  };
}

function parse(block: string): SseEvent {
  const event: SseEvent = { event: "message", id: null, data: "" };
  const data: string[] = [];
  for (const line of block.split("\n")) {
    const colon = line.indexOf(":");
    const field = line.slice(0, colon);
    const value = line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event.event = value;
    else if (field === "id") event.id = value;
    else if (field === "data") data.push(value);
  }
  event.data = data.join("\n");
  return event;
}
