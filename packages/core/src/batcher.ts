// Natural batching for group commit (ADR 006). Items are spread over a few lanes; a lane runs
// one call at a time. An item that finds its lane idle runs alone at once (no waiting, so a
// quiet server answers as fast as without batching); items that arrive while their lane is busy
// queue, and go together in the lane's next call. Under load, batches grow by themselves.
export interface BatcherOptions<I, O> {
  lanes: number;
  maxBatch: number;
  laneOf: (item: I) => number;
  runOne: (item: I) => Promise<O>;
  // One outcome per item, in order: one item's failure need not fail the others.
  runMany: (items: I[]) => Promise<PromiseSettledResult<O>[]>;
  onBatch?: (size: number) => void;
}

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

export function createBatcher<I, O>(options: BatcherOptions<I, O>): (item: I) => Promise<O> {
  const lanes = Array.from({ length: options.lanes }, () => ({ busy: false, queue: [] as Waiting<I, O>[] }));

  async function drain(lane: (typeof lanes)[number]) {
    lane.busy = true;
    while (lane.queue.length > 0) {
      const batch = lane.queue.splice(0, options.maxBatch);
      const outcomes = await settle(batch.map((w) => w.item));
      batch.forEach((waiting, index) => {
        const outcome = outcomes[index];
        if (outcome?.status === "fulfilled") waiting.resolve(outcome.value);
        else waiting.reject(outcome ? outcome.reason : new Error("batch returned no outcome"));
      });
    }
    lane.busy = false;
  }

  // Never throws: every item gets an outcome, so the lane always moves on.
  async function settle(items: I[]): Promise<PromiseSettledResult<O>[]> {
    try {
      options.onBatch?.(items.length);
      if (items.length === 1) return [{ status: "fulfilled", value: await options.runOne(items[0] as I) }];
      return await options.runMany(items);
    } catch (reason) {
      return items.map(() => ({ status: "rejected", reason }));
    }
  }

  return (item) =>
    new Promise<O>((resolve, reject) => {
      const lane = lanes[Math.abs(options.laneOf(item)) % lanes.length] as (typeof lanes)[number];
      lane.queue.push({ item, resolve, reject });
      if (!lane.busy) void drain(lane);
    });
}
