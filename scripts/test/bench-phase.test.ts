// A bench phase (scripts/bench/load.ts runPhase) with the load generator and /proc replaced: the
// order it loads the servers in, which loads wait for PostgreSQL's counts, and what it reports.
// The real thing is `pnpm bench`, which CI runs; this pins its schedule (review 15).
import type { Request } from "autocannon";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const events: string[] = [];
vi.mock("autocannon", () => ({
  default: async (options: { url: string; duration: number }) => {
    events.push(`load ${options.url} ${options.duration}s`);
    return {
      "2xx": 100,
      duration: options.duration,
      latency: { p50: 1, p99: 2 },
      errors: 0,
      timeouts: 0,
      non2xx: 0,
      statusCodeStats: {},
    };
  },
}));
vi.mock("../bench/processes.ts", () => ({
  cpuMicros: () => 0,
  statusKb: () => 1024,
  stopChild: async () => {
    events.push("stop");
  },
}));

const { apiFirstIn, loadRunner } = await import("../bench/load.ts");

const SETTLE_WAITS = [1_100, 10_500];
beforeEach(() => {
  events.length = 0;
  const realTimeout = globalThis.setTimeout;
  vi.spyOn(globalThis, "setTimeout").mockImplementation(((run: () => void, ms?: number) => {
    if (ms !== undefined && SETTLE_WAITS.includes(ms)) events.push(`wait ${ms}`);
    return realTimeout(run, 0);
  }) as typeof setTimeout);
});
afterEach(() => {
  vi.restoreAllMocks();
});

// PostgreSQL's committed transactions: 100 more at every read of the count.
let commits = 0;
const pg = (async (statement: TemplateStringsArray) => {
  if (statement.join("").includes("xact_commit")) commits += 100;
  return [{ n: commits }];
}) as never;
const scenario = (name: string) => ({ scenario: name, connections: 64, setupRequest: (req: Request) => req });
const side = (target: "api" | "bare", names: string[]) => ({
  target,
  start: async () => {
    events.push(`start ${target}`);
    return { child: { pid: target === "api" ? 1 : 2 } as never, url: target };
  },
  loads: names.map(scenario),
});

describe("a bench phase", () => {
  it("alternates API-first and bare-first rounds, two of each in four", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(apiFirstIn)).toEqual([true, false, false, true, true, false, false, true]);
  });

  it("warms both servers, measures every scenario each round in ABBA order, counts only round 1", async () => {
    const { runLoad, runPhase } = loadRunner({ pg, dbName: "x", duration: 15, warmup: 3, rounds: 4, log: () => {} });
    const { results } = await runPhase([side("api", ["a1", "a2"]), side("bare", ["b1"])], (url, pid) => {
      events.push("webhook");
      return runLoad({ ...scenario("webhook"), target: "api", url, pid }, true);
    });
    const measured = events.filter((e) => e.endsWith(" 15s") || e === "webhook");
    expect(measured).toEqual([
      ...["load api 15s", "load api 15s", "load bare 15s"],
      ...["load bare 15s", "load api 15s", "load api 15s"],
      ...["load bare 15s", "load api 15s", "load api 15s"],
      ...["load api 15s", "load api 15s", "load bare 15s"],
      "webhook",
      "load api 15s",
    ]);
    // Started, each warmed up on its scenarios and settled; round 1's loads count (a wait before
    // and after each); later rounds do not wait; the webhook waits for the last round's counts.
    expect(events.slice(0, 6)).toEqual([
      "start api",
      "start bare",
      "load api 3s",
      "load api 3s",
      "wait 10500",
      "load bare 3s",
    ]);
    const firstRound = events.slice(events.indexOf("load bare 3s") + 1, events.indexOf("load bare 3s") + 14);
    expect(firstRound.filter((e) => e.startsWith("wait"))).toEqual([
      ...["wait 10500", "wait 1100", "wait 10500", "wait 1100", "wait 10500", "wait 1100", "wait 10500"],
    ]);
    const webhook = events.indexOf("webhook");
    expect(events.slice(webhook, webhook + 5)).toEqual([
      "webhook",
      "wait 10500",
      "load api 3s",
      "load api 15s",
      "wait 10500",
    ]);
    expect(events.slice(-2)).toEqual(["stop", "stop"]);

    expect(results.map((r) => [r.target, r.scenario, r.roundRps?.length])).toEqual([
      ["api", "a1", 4],
      ["api", "a2", 4],
      ["bare", "b1", 4],
      ["api", "webhook", undefined],
    ]);
    // 100 commits between the counts, over the warm-up's 100 answers and the run's 100.
    for (const figures of results) expect(figures.dbXactPerRequest).toBe(0.5);
    expect(results.every((figures) => figures.rps === 100 / 15 && figures.peakRssMb === 1)).toBe(true);
  });

  it("starts no server for a side without scenarios, and none at all for an empty phase", async () => {
    const { runPhase } = loadRunner({ pg, dbName: "x", duration: 15, warmup: 0, rounds: 2, log: () => {} });
    const oneSided = await runPhase([side("api", []), side("bare", ["b1"])]);
    expect(events.filter((e) => e.startsWith("start"))).toEqual(["start bare"]);
    expect(oneSided.results.map((r) => [r.target, r.roundRps])).toEqual([["bare", [100 / 15, 100 / 15]]]);
    expect(oneSided.apiPeakRssMb).toBe(0);
    events.length = 0;
    const empty = await runPhase([side("api", []), side("bare", [])]);
    expect(events).toEqual([]);
    expect(empty.results).toEqual([]);
  });

  it("with only the webhooks, starts the API and runs them once, in no round", async () => {
    const logged: string[] = [];
    const { runLoad, runPhase } = loadRunner({
      ...{ pg, dbName: "x", duration: 15, warmup: 0, rounds: 4 },
      log: (line) => logged.push(line),
    });
    const { results } = await runPhase([side("api", []), side("bare", [])], (url, pid) =>
      runLoad({ ...scenario("webhook"), target: "api", url, pid }, true),
    );
    expect(events.filter((e) => e.startsWith("start") || e.startsWith("load"))).toEqual(["start api", "load api 15s"]);
    expect(logged.filter((line) => line.includes("round"))).toEqual([]);
    expect(logged).toEqual([expect.stringMatching(/^ {2}api {5}webhook .* 7 req\/s/)]);
    expect(results.map((r) => r.scenario)).toEqual(["webhook"]);
  });
});
