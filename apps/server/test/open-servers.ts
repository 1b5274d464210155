import { afterAll } from "vitest";

// The servers the test files start, closed at the end of each file (afterAll). The unit and
// browser tests reuse worker processes (vitest.config.ts), and a file that fails while being
// collected (a throw or a timeout in its top-level awaits) never runs its afterAll hooks: its server
// would go on listening, its background jobs running, beside the next file in the same worker. So
// each is also listed process-wide (this module is evaluated again for each file), and
// reused-worker.setup.ts closes what is left before the next file.
const KEY = Symbol.for("credits.test.open-servers");
const holder = globalThis as { [KEY]?: Set<() => Promise<void>> };
holder[KEY] ??= new Set();
const open = holder[KEY];

// Runs `close` at the end of the calling test file, or before the next file if this one never ends.
export function closeAfterFile(close: () => Promise<void>): void {
  const once = async () => {
    if (open.delete(once)) await close();
  };
  open.add(once);
  afterAll(once);
}

// Closes every server an earlier file of this process left open; returns how many.
export async function closeLeftoverServers(): Promise<number> {
  const left = [...open];
  await Promise.allSettled(left.map((close) => close()));
  return left.length;
}
