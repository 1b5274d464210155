import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";

// postgres.js's pool queues (patches/postgres@3.4.9.patch, ADR 008). Every query a busy pool runs
// shifts a connection off its `busy` queue and pushes it back, after a remove() that scans the
// queue's array; shift() only emptied that array when the queue ran empty, which it never does
// while the load lasts, so the array and each scan grew by one entry per query (issue 17: 22,000
// entries and ~11,000 scanned per query after 20 seconds of the balance read at 64 connections).

interface Queue<T> {
  readonly length: number;
  push(x: T): T;
  shift(): T | undefined;
  remove(x: T): T | null;
}
type QueueOf = <T>() => Queue<T>;

const require = createRequire(import.meta.url);
const cjsEntry = require.resolve("postgres");
const builds: [string, QueueOf][] = [
  ["CommonJS", require(join(dirname(cjsEntry), "queue.js")) as QueueOf],
  [
    "ESM",
    ((await import(pathToFileURL(join(dirname(cjsEntry), "../../src/queue.js")).href)) as { default: QueueOf }).default,
  ],
];

// The longest array a remove() searched: what each query pays under load.
const realIndexOf = Array.prototype.indexOf;
let longestScan = 0;
function countScans() {
  longestScan = 0;
  // biome-ignore lint/suspicious/noExplicitAny: the spy stands in for the built-in with its own `this`
  Array.prototype.indexOf = function (this: unknown[], ...args: any[]) {
    longestScan = Math.max(longestScan, this.length);
    return realIndexOf.apply(this, args as [unknown, number?]);
  };
}
afterEach(() => {
  Array.prototype.indexOf = realIndexOf;
});

describe.each(builds)("postgres.js queue (%s build)", (_build, Queue) => {
  it("does not grow with the queries of a load that never lets it run empty", () => {
    const busy = Queue<{ id: number }>();
    for (let id = 0; id < 10; id++) busy.push({ id });
    countScans();
    // The pool's `go`: take the next busy connection, give it the query, move it back to busy.
    for (let query = 0; query < 50_000; query++) {
      const connection = busy.shift();
      if (!connection) throw new Error("no connection");
      busy.remove(connection);
      busy.push(connection);
    }
    expect(busy.length).toBe(10);
    expect(longestScan).toBeLessThan(2_100);
  });

  it("keeps first-in first-out order and removal, as a plain array does", () => {
    // Mostly pushes and shifts, so that the queue often stays non-empty past the 1,024 shifts
    // after which the patch drops its head.
    const op = fc.oneof(
      { arbitrary: fc.constant({ kind: "push" as const }), weight: 5 },
      { arbitrary: fc.constant({ kind: "shift" as const }), weight: 4 },
      { arbitrary: fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }), weight: 1 },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 6_000 }), (ops) => {
        const queue = Queue<number>();
        const model: number[] = [];
        let next = 0;
        for (const step of ops) {
          if (step.kind === "push") {
            queue.push(next);
            model.push(next++);
          } else if (step.kind === "shift") {
            if (model.length > 0) expect(queue.shift()).toBe(model.shift());
          } else {
            // Sometimes a value already gone (the pool removes connections that may be elsewhere).
            const value = step.pick % (next + 1);
            const at = model.indexOf(value);
            if (at >= 0) model.splice(at, 1);
            expect(queue.remove(value)).toBe(at >= 0 ? value : null);
          }
          expect(queue.length).toBe(model.length);
        }
      }),
      { numRuns: 40 },
    );
  });
});
