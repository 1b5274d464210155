// The live balance's poll against a slow database: one poll at a time, the next timed from the
// end of the last, so a stall queues nothing to flood the database with when it recovers.
import { setTimeout as sleep } from "node:timers/promises";
import { expect, it } from "vitest";
import { startBalanceFeed } from "../../src/balance-feed.ts";

it("a stalled read does not queue polls: after recovery they come one interval apart", async () => {
  let stalled = true;
  let reads = 0;
  const feed = startBalanceFeed({
    readLatest: async () => {
      reads += 1;
      if (stalled) await sleep(400);
      return [];
    },
    perUser: 1,
    total: 10,
    intervalMs: 20,
  });
  feed.subscribe("00000000-0000-4000-8000-000000000001", { onEvent() {}, onStop() {} });
  await sleep(1_200);
  stalled = false;
  const before = reads;
  await sleep(200);
  // One interval apart: about 10 in 200 ms. Queued polls (one per interval of the stall, ~60)
  // would all run back to back here.
  expect(reads - before).toBeLessThanOrEqual(12);
  const stopping = Date.now();
  await feed.stop();
  expect(Date.now() - stopping).toBeLessThan(200);
});
