// Natural batching for group commit (ADR 006). A few lanes each run one call at a time. An item
// that finds a lane idle runs alone on it at once (no waiting, so a quiet server answers as fast
// as without batching: at 4 connections, half the spends used to wait behind another user's
// statement on their hashed lane while other lanes stood idle); items that arrive while every lane
// is busy queue, and go together in a lane's next call. Under load, batches grow by themselves.
// Items of one key (a user) never run on two lanes at once: one arriving while another of its key
// is queued or running joins that lane, so a key's items apply in arrival order.
export interface BatcherOptions<I, O> {
  lanes: number;
  maxBatch: number;
  keyOf: (item: I) => string;
  runOne: (item: I) => Promise<O>;
  // One outcome per item, in order: one item's failure need not fail the others.
  runMany: (items: I[]) => Promise<PromiseSettledResult<O>[]>;
  onBatch?: (size: number) => void;
}

interface Waiting<I, O> {
  item: I;
  key: string;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

interface Lane<I, O> {
  busy: boolean;
  queue: Waiting<I, O>[];
}

export function createBatcher<I, O>(options: BatcherOptions<I, O>): (item: I) => Promise<O> {
  const lanes: Lane<I, O>[] = Array.from({ length: options.lanes }, () => ({ busy: false, queue: [] }));
  // The lane of each key with items queued or running, and how many.
  const pending = new Map<string, { lane: Lane<I, O>; count: number }>();

  // The key's own lane while it has items there; else an idle lane; else the shortest queue.
  function laneFor(key: string): Lane<I, O> {
    const own = pending.get(key);
    if (own) {
      own.count += 1;
      return own.lane;
    }
    let lane = lanes[0] as Lane<I, O>;
    for (const candidate of lanes) {
      if (!candidate.busy) {
        lane = candidate;
        break;
      }
      if (candidate.queue.length < lane.queue.length) lane = candidate;
    }
    pending.set(key, { lane, count: 1 });
    return lane;
  }

  function done(key: string) {
    const own = pending.get(key);
    if (own && --own.count === 0) pending.delete(key);
  }

  async function drain(lane: Lane<I, O>) {
    lane.busy = true;
    while (lane.queue.length > 0) {
      const batch = lane.queue.splice(0, options.maxBatch);
      const outcomes = await settle(batch.map((w) => w.item));
      batch.forEach((waiting, index) => {
        done(waiting.key);
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
      const key = options.keyOf(item);
      const lane = laneFor(key);
      lane.queue.push({ item, key, resolve, reject });
      if (!lane.busy) void drain(lane);
    });
}
