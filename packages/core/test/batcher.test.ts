// Group commit's batcher on its own (ADR 006): every item gets exactly its own outcome, a lane
// runs one call at a time, an item runs alone at once whenever a lane is idle, a key's items apply
// in arrival order on one lane, and one item's failure in a batch fails that item only.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createBatcher } from "../src/batcher.ts";

const tick = () => new Promise((resolve) => setImmediate(resolve));

// Items' keys: their value modulo `keys` (so items of one key arrive interleaved with others).
function harness(lanes: number, maxBatch: number, keys = lanes) {
  const calls: number[][] = [];
  let running = 0;
  let overlapped = false;
  let peak = 0;
  const run = async (items: number[]) => {
    running++;
    peak = Math.max(peak, running);
    if (running > lanes) overlapped = true;
    calls.push(items);
    await tick();
    running--;
  };
  const batch = createBatcher<number, number>({
    lanes,
    maxBatch,
    keyOf: (item) => String(Math.abs(item) % keys),
    runOne: async (item) => {
      await run([item]);
      if (item < 0) throw new Error(`refused ${item}`);
      return item * 2;
    },
    runMany: async (items) => {
      await run(items);
      return items.map((item) =>
        item < 0
          ? { status: "rejected", reason: new Error(`refused ${item}`) }
          : { status: "fulfilled", value: item * 2 },
      );
    },
  });
  return { batch, calls, overlapped: () => overlapped, peak: () => peak };
}

describe("batcher", () => {
  it("every item gets its own outcome, batches stay within maxBatch, lanes never overlap", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: -50, max: 200 }), { minLength: 1, maxLength: 60 }),
        async (lanes, maxBatch, keys, items) => {
          const { batch, calls, overlapped } = harness(lanes, maxBatch, keys);
          const outcomes = await Promise.allSettled(items.map((item) => batch(item)));
          outcomes.forEach((outcome, index) => {
            const item = items[index] as number;
            if (item < 0) expect(outcome.status).toBe("rejected");
            else expect(outcome).toEqual({ status: "fulfilled", value: item * 2 });
          });
          expect(calls.flat().sort((a, b) => a - b)).toEqual([...items].sort((a, b) => a - b));
          for (const call of calls) expect(call.length).toBeLessThanOrEqual(maxBatch);
          expect(overlapped()).toBe(false);
          // A key's items reach the calls in the order they arrived.
          const byKey = (list: number[]) => (key: number) => list.filter((item) => Math.abs(item) % keys === key);
          for (let key = 0; key < keys; key++) {
            expect(byKey(calls.flat())(key)).toEqual(byKey(items)(key));
          }
        },
      ),
      { seed: 20_261_204 },
    );
  });

  it("an item on an idle lane runs alone at once; items arriving meanwhile go together next", async () => {
    const { batch, calls } = harness(1, 64);
    await Promise.all([batch(1), batch(2), batch(3), batch(4)]);
    expect(calls).toEqual([[1], [2, 3, 4]]);
  });

  // Issue 17: at 4 connections half the spends waited behind another user's statement on their
  // hashed lane while other lanes were idle.
  it("items of different keys run alone and at once while a lane is idle, whatever their keys", async () => {
    const { batch, calls, peak } = harness(4, 64, 1_000);
    await Promise.all([batch(0), batch(4), batch(8), batch(12)]);
    expect(calls).toEqual([[0], [4], [8], [12]]);
    expect(peak()).toBe(4);
  });

  it("an item whose key is queued or running joins that lane, even with another lane idle", async () => {
    const { batch, calls, peak } = harness(2, 64, 10);
    await Promise.all([batch(1), batch(11), batch(21), batch(2)]);
    // 1 runs alone; 11 and 21 (key 1) wait for it and go together; 2 takes the idle lane at once.
    expect(calls).toEqual([[1], [2], [11, 21]]);
    expect(peak()).toBe(2);
  });

  it("with every lane busy, an item of a new key waits in the shortest queue", async () => {
    const { batch, calls } = harness(2, 64, 10);
    await Promise.all([batch(1), batch(2), batch(11), batch(3), batch(4)]);
    // Lanes run 1 and 2; 11 joins 1's lane; 3 takes the other (shorter) queue, 4 then the first.
    expect(calls).toEqual([[1], [2], [11, 4], [3]]);
  });

  it("a batch whose call throws fails its items, and the lane moves on", async () => {
    let fail = true;
    const batch = createBatcher<number, number>({
      lanes: 1,
      maxBatch: 10,
      keyOf: () => "one",
      runOne: async (item) => item,
      runMany: async (items) => {
        if (fail) {
          fail = false;
          throw new Error("the whole batch failed");
        }
        return items.map((value) => ({ status: "fulfilled", value }));
      },
    });
    const first = await Promise.allSettled([batch(1), batch(2), batch(3)]);
    expect(first.map((o) => o.status)).toEqual(["fulfilled", "rejected", "rejected"]);
    expect(await Promise.all([batch(4), batch(5)])).toEqual([4, 5]);
  });
});
