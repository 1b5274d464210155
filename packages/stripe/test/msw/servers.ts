import { type SetupServer, setupServer } from "msw/node";
import { afterAll } from "vitest";

// msw intercepts for the whole process (it patches fetch, node:http and net.Socket), and the unit
// tests reuse worker processes (vitest.config.ts): a later file in the same worker would go through
// an interception its file left on. Each file's msw servers close in its afterAll; but a file that
// fails while being collected (a throw or a timeout in its top-level awaits) never runs its
// afterAll hooks, so every server started here is also listed process-wide (this module is
// evaluated again for each file), and reused-worker.setup.ts closes what is left before the next file.
const KEY = Symbol.for("credits.test.msw-servers");
const holder = globalThis as { [KEY]?: Set<SetupServer> };
holder[KEY] ??= new Set();
const listening = holder[KEY];

type Handlers = Parameters<typeof setupServer>;
type OnUnhandledFrame = NonNullable<Parameters<SetupServer["listen"]>[0]>["onUnhandledFrame"];

// msw's setupServer, listening until the end of the calling test file; `close` ends it earlier.
export function listenMsw(handlers: Handlers, onUnhandledFrame: OnUnhandledFrame) {
  const server = setupServer(...handlers);
  server.listen({ onUnhandledFrame });
  listening.add(server);
  const close = () => {
    if (listening.delete(server)) server.close();
  };
  afterAll(close);
  return { server, close };
}

// Closes every msw server an earlier file of this process left listening; returns how many.
export function closeLeftoverMswServers(): number {
  const count = listening.size;
  for (const server of listening) server.close();
  listening.clear();
  return count;
}
