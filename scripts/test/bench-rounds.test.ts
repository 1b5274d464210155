// The bench's rounds (scripts/bench/load.ts runPhase): a scenario measured in several rounds is
// reported as its rounds' medians, and a ratio is the median of the rounds' ratios, so one round on
// a slow stretch of the machine moves neither.
import { describe, expect, it } from "vitest";
import { type Figures, medianRound, pairedRatio } from "../bench/figures.ts";
import { type BenchOutcome, summarize } from "../bench/report.ts";

const round = (target: Figures["target"], scenario: string, rps: number, more: Partial<Figures> = {}): Figures => ({
  scenario,
  target,
  connections: 64,
  rps,
  p50: rps / 100,
  p99: rps / 10,
  errors: 0,
  non2xx: 0,
  requests: rps * 3,
  peakRssMb: 100,
  cpuMicrosPerRequest: 1_000_000 / rps,
  ...more,
});

describe("medianRound", () => {
  it("takes each figure's median, sums errors and answers, keeps the highest RSS and every rate", () => {
    const figures = medianRound([
      round("api", "me/credits", 900, { dbXactPerRequest: 1.02, errors: 1, otherStatuses: { "503": 2 } }),
      round("api", "me/credits", 1_300, { peakRssMb: 240, non2xx: 2, otherStatuses: { "503": 1, "500": 1 } }),
      round("api", "me/credits", 1_100),
    ]);
    expect(figures).toMatchObject({
      rps: 1_100,
      p50: 11,
      p99: 110,
      cpuMicrosPerRequest: 1_000_000 / 1_100,
      errors: 1,
      non2xx: 2,
      requests: 9_900,
      peakRssMb: 240,
      dbXactPerRequest: 1.02,
      otherStatuses: { "503": 3, "500": 1 },
      roundRps: [900, 1_300, 1_100],
    });
  });

  it("of an even number of rounds, the mean of the middle two", () => {
    expect(medianRound([round("bare", "x", 100), round("bare", "x", 400), round("bare", "x", 200)]).rps).toBe(200);
    expect(medianRound([round("bare", "x", 100), round("bare", "x", 400)]).rps).toBe(250);
  });

  it("leaves a round without a successful answer out of the CPU figure", () => {
    const figures = medianRound([
      round("api", "x", 0, { cpuMicrosPerRequest: Number.NaN }),
      round("api", "x", 1_000, { cpuMicrosPerRequest: 500 }),
      round("api", "x", 800, { cpuMicrosPerRequest: 700 }),
    ]);
    expect(figures.cpuMicrosPerRequest).toBe(600);
    expect(figures.rps).toBe(800);
    expect(medianRound([round("api", "x", 0, { cpuMicrosPerRequest: Number.NaN })]).cpuMicrosPerRequest).toBeNaN();
  });

  it("refuses no rounds", () => {
    expect(() => medianRound([])).toThrow(/no rounds/);
  });
});

describe("pairedRatio", () => {
  const api = medianRound([round("api", "a", 700), round("api", "a", 1_000), round("api", "a", 400)]);
  const bare = medianRound([round("bare", "b", 1_000), round("bare", "b", 2_000), round("bare", "b", 500)]);

  it("is the median of the rounds' ratios, not the ratio of the medians", () => {
    // A slow second round on the API's side: the rounds' ratios are 0.7, 0.15 and 0.8 (median 0.7);
    // the ratio of the medians would be 400 / 1,000.
    const slowSecondRound = medianRound([round("api", "a", 700), round("api", "a", 300), round("api", "a", 400)]);
    expect(pairedRatio(slowSecondRound, bare)).toBeCloseTo(0.7);
    expect(slowSecondRound.rps / bare.rps).toBeCloseTo(0.4);
  });

  it("pairs only the rounds in which the baseline answered", () => {
    const failedBare = medianRound([round("bare", "b", 0), round("bare", "b", 1_000), round("bare", "b", 1_000)]);
    const steady = medianRound([round("api", "a", 500), round("api", "a", 600), round("api", "a", 800)]);
    // Rounds 2 and 3: 0.6 and 0.8.
    expect(pairedRatio(steady, failedBare)).toBeCloseTo(0.7);
    const silentBare = medianRound([round("bare", "b", 0), round("bare", "b", 0), round("bare", "b", 0)]);
    expect(pairedRatio(steady, silentBare)).toBeNaN();
  });

  it("is the ratio of the rates without rounds on both sides (pgbench runs once)", () => {
    const pgbench = round("pgbench", "spend", 2_000);
    expect(pairedRatio(api, pgbench)).toBeCloseTo(700 / 2_000);
    expect(pairedRatio(undefined, pgbench)).toBeNaN();
  });

  it("feeds the report's read ratios", () => {
    const outcome = {
      results: [
        medianRound([
          round("api", "me/credits", 650),
          round("api", "me/credits", 1_400),
          round("api", "me/credits", 600),
        ]),
        medianRound([
          round("bare", "read credits", 1_000),
          round("bare", "read credits", 1_700),
          round("bare", "read credits", 800),
        ]),
      ],
      apiPeakRssMb: 100,
      broken: 0,
    } as unknown as BenchOutcome;
    const line = summarize(outcome).readRatios.find((r) => r.label.startsWith("me/credits / bare read credits"));
    // Rounds 0.65, 0.82, 0.75: median 0.75 (the medians' ratio, 650 / 1,000, would miss 0.7).
    expect(line?.ratio).toBeCloseTo(0.75);
  });
});
