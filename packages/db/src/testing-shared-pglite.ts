// Test kit: one PGlite per test worker, lent to one test file at a time and brought back to the
// migrated image's state before the next (issue 13). Loading the image into a new PGlite cost
// 0.9–1.35 s of CPU per file (2–2.4 s for a worker's first): PGlite's start and unpacking the
// image. The unit project's workers run file after file (isolate: false), and globalThis outlives
// the file, so the instance kept there is reset instead (tens of ms).
//
// A file must never see what an earlier one left: the reset restores rows, sequences and the
// session (testing-pglite-state.ts), then the instance's whole state is compared with the image's
// (fingerprint). Any difference, a failed or stuck reset, or a file that did not close its handle
// (a file that failed while being collected never runs its afterAll) gets the next file a new
// instance loaded from the image, as every file had before, with one line on stderr saying why.
import { openAsBlob } from "node:fs";
import type { PGlite, Transaction } from "@electric-sql/pglite";
import { openPglite } from "./client.ts";
import { captureImage, differences, fingerprint, type ImageState, resetToImage } from "./testing-pglite-state.ts";

interface Shared {
  client: PGlite;
  image: ImageState;
  // A file has it: from lending until that file's handle is closed.
  lent: boolean;
}

// How this worker's files got their database, for a run's figures and for the tests of the reset.
export interface SharedPgliteCounts {
  reused: number;
  loaded: number;
  // Why an instance was thrown away, one entry each time.
  replaced: string[];
}

const KEY = Symbol.for("credits.test.shared-pglite");
const COUNTS = Symbol.for("credits.test.shared-pglite.counts");
const holder = globalThis as { [KEY]?: Shared; [COUNTS]?: SharedPgliteCounts };

// A reset waits for whatever the previous file still had queued on the instance (PGlite runs one
// statement at a time); a transaction it left waiting on a promise that never settles would
// otherwise hang the next file.
const RESET_TIMEOUT_MS = 15_000;

export function sharedPgliteCounts(): SharedPgliteCounts {
  holder[COUNTS] ??= { reused: 0, loaded: 0, replaced: [] };
  return holder[COUNTS];
}

// The worker's PGlite for this file, at the image's state: reset, or new when the reset cannot
// be trusted. `imagePath`: the migrated image (PGLITE_IMAGE_ENV). Closing what this returns ends
// the lease and leaves the instance open for the next file.
export async function lendSharedPglite(imagePath: string): Promise<PGlite> {
  const counts = sharedPgliteCounts();
  const shared = holder[KEY];
  if (shared) {
    const refused = await whyNotReusable(shared);
    if (refused === null) {
      counts.reused += 1;
      return lend(shared);
    }
    counts.replaced.push(refused);
    console.warn(`[shared PGlite] a new instance for this file: ${refused}`);
    holder[KEY] = undefined;
    // Not awaited: what kept the old one busy may never end. Closed, it refuses what still comes.
    shared.client.close().catch(() => {});
  }
  const client = openPglite("memory://", await openAsBlob(imagePath));
  const fresh: Shared = { client, image: await captureImage(client), lent: false };
  counts.loaded += 1;
  holder[KEY] = fresh;
  return lend(fresh);
}

// Null when the reset brought the instance back to the image's state; otherwise why not.
async function whyNotReusable(shared: Shared): Promise<string | null> {
  if (shared.lent) return "the previous file did not close its database";
  if (shared.client.closed) return "the instance was closed";
  try {
    const now = await withTimeout(
      resetToImage(shared.client, shared.image).then(() => fingerprint(shared.client, shared.image)),
    );
    const changed = differences(shared.image.fingerprint, now);
    return changed.length === 0 ? null : `after the reset, differs from the image in: ${changed.join(", ")}`;
  } catch (error) {
    return `the reset failed: ${error instanceof Error ? error.message : String(error)}`;
  }
}

async function withTimeout<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${RESET_TIMEOUT_MS / 1000} s`)), RESET_TIMEOUT_MS);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// The file's view of the instance: what a PGlite of its own would be. close() ends the lease and
// undoes the file's listeners (PGlite keeps them in JavaScript, where DISCARD ALL's UNLISTEN does
// not reach: a callback left there would hear the next file's notifications on its channel once
// that file listens to it). After close(), every method rejects as a closed PGlite's does,
// so a timer or request the file left running cannot write into the next file's database.
function lend(shared: Shared): PGlite {
  shared.lent = true;
  const { client } = shared;
  let closed = false;
  // What the file's listen() calls returned: each removes its callback (PGlite's unlisten(channel)
  // without one sends UNLISTEN but keeps the channel's callbacks).
  const unlistens: (() => Promise<void>)[] = [];
  const callbacks = new Set<(channel: string, payload: string) => void>();
  const tracked =
    <A extends unknown[]>(listen: (...args: A) => Promise<() => Promise<void>>) =>
    async (...args: A) => {
      const unlisten = await listen(...args);
      unlistens.push(() => unlisten());
      return unlisten;
    };
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const unlisten of unlistens) await unlisten();
    for (const callback of callbacks) client.offNotification(callback);
    shared.lent = false;
  };
  return new Proxy(client, {
    get(target, property) {
      if (property === "close") return close;
      if (property === "closed") return closed || target.closed;
      // PGlite's own fields are private: its methods and getters run on the instance itself.
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (closed) return () => Promise.reject(new Error("PGlite is closed"));
      if (property === "listen") return tracked(target.listen.bind(target));
      // A transaction's listen() registers its callback on the instance itself, past this view.
      if (property === "transaction") {
        return <T>(callback: (tx: Transaction) => Promise<T>) =>
          target.transaction((tx) =>
            callback(
              new Proxy(tx, {
                get: (inner, name) => (name === "listen" ? tracked(inner.listen) : Reflect.get(inner, name, inner)),
              }),
            ),
          );
      }
      if (property === "onNotification") {
        return (callback: (channel: string, payload: string) => void) => {
          callbacks.add(callback);
          return target.onNotification(callback);
        };
      }
      return value.bind(target);
    },
  });
}
