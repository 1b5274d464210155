// Group commit's batcher on its own (ADR 006): every item gets exactly its own outcome, a lane
// runs one call at a time, an item on an idle lane runs alone at once, and one item's failure
// in a batch fails that item only.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createBatcher } from "../src/batcher.ts";

const tick = () => new Promise((resolve) => setImmediate(resolve));

function harness(lanes: number, maxBatch: number) {
  const calls: number[][] = [];
  let running = 0;
  let overlapped = false;
  const run = async (items: number[]) => {
    running++;
    if (running > lanes) overlapped = true;
    calls.push(items);
    await tick();
    running--;
  };
  const batch = createBatcher<number, number>({
    lanes,
    maxBatch,
    laneOf: (item) => item % lanes,
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
  return { batch, calls, overlapped: () => overlapped };
}

describe("batcher", () => {
  it("every item gets its own outcome, batches stay within maxBatch, lanes never overlap", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: -50, max: 200 }), { minLength: 1, maxLength: 60 }),
        async (lanes, maxBatch, items) => {
          const { batch, calls, overlapped } = harness(lanes, maxBatch);
          const outcomes = await Promise.allSettled(items.map((item) => batch(item)));
          outcomes.forEach((outcome, index) => {
            const item = items[index] as number;
            if (item < 0) expect(outcome.status).toBe("rejected");
            else expect(outcome).toEqual({ status: "fulfilled", value: item * 2 });
          });
          expect(calls.flat().sort((a, b) => a - b)).toEqual([...items].sort((a, b) => a - b));
          for (const call of calls) expect(call.length).toBeLessThanOrEqual(maxBatch);
          expect(overlapped()).toBe(false);
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

  it("a batch whose call throws fails its items, and the lane moves on", async () => {
    let fail = true;
    const batch = createBatcher<number, number>({
      lanes: 1,
      maxBatch: 10,
      laneOf: () => 0,
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
