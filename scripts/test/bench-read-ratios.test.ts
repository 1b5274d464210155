// Issue 17's read targets as `pnpm bench` reports them: every balance-only API read is measured
// against the bare server's balance-only read (the same one statement, scripts/bench/read-sql.ts)
// with the 0.7 × target, and against the bare full read at 1 × (at least as fast as it).
import { describe, expect, it } from "vitest";
import type { Figures } from "../bench/figures.ts";
import { apiReads, bareReads, READ_CONNECTIONS, READ_RATIOS, READ_TARGET } from "../bench/reads.ts";
import { type BenchOutcome, measured, summarize } from "../bench/report.ts";

const apiScenarios = apiReads("u", {}, {}).map((read) => read.scenario);
const bareScenarios = bareReads("u").map((read) => read.scenario);

describe("bench read ratios", () => {
  it("name only scenarios the bench runs", () => {
    for (const ratio of READ_RATIOS) {
      expect(apiScenarios).toContain(ratio.api);
      expect(bareScenarios).toContain(ratio.bare);
    }
  });

  it.each(["users/{id}/balance", "me/balance"])("%s against the bare balance-only read, target ≥ 0.7 ×", (api) => {
    expect(READ_TARGET).toBe(0.7);
    expect(READ_RATIOS).toContainEqual({ api, bare: "read balance", target: READ_TARGET });
    expect(READ_RATIOS).toContainEqual({ api, bare: "read credits", target: 1 });
  });

  it("every history read has the 0.7 × target", () => {
    for (const api of ["users/{id}/credits", "me/credits"]) {
      expect(READ_RATIOS).toContainEqual({ api, bare: "read credits", target: READ_TARGET });
    }
  });
});

// A run where the balance reads by key answer 0.41 × the bare balance-only read (as a quiet quick
// bench measured): the printed target line says by how much, and why (ADR 022).
describe("bench read targets, printed", () => {
  const figures = (target: Figures["target"], scenario: string, rps: number, cpu: number): Figures => ({
    scenario,
    target,
    connections: READ_CONNECTIONS,
    rps,
    p50: 1,
    p99: 2,
    errors: 0,
    non2xx: 0,
    requests: rps * 10,
    cpuMicrosPerRequest: cpu,
  });
  const outcome = {
    results: [
      figures("bare", "read balance", 10_000, 62),
      figures("bare", "read balance + owed work", 8_300, 74),
      figures("bare", "read credits", 5_000, 120),
      figures("api", "users/{id}/balance", 4_100, 195),
      figures("api", "users/{id}/credits", 3_600, 160),
    ],
    apiPeakRssMb: 100,
    broken: 0,
  } as unknown as BenchOutcome;
  const line = (target: string) => {
    const found = summarize(outcome).targets.find((t) => t.target === target);
    if (!found) throw new Error(`no target ${target}`);
    return { met: found.met, text: measured(found) };
  };

  it("a missed read says by how much and points to ADR 022's reason", () => {
    const balance = line("users/{id}/balance / bare read balance, c=64 ≥ 0.7 ×");
    expect(balance.met).toBe(false);
    expect(balance.text).toMatch(
      /^0\.41 ×, short by 0\.29 × \(59 % of the target\): server CPU per request bare \/ API 0\.32/,
    );
    expect(balance.text).toContain("docs/decisions/022-read-path-cpu.md");
    // The floor: a bare server doing the work every read owes answered 8,300 of the bare 10,000.
    expect(balance.text).toContain("answered 0.83 × the bare read");
  });

  it("a near miss prints enough digits not to read as the target", () => {
    const near = summarize({
      ...outcome,
      results: [figures("bare", "read credits", 10_000, 120), figures("api", "me/credits", 6_980, 160)],
    } as unknown as BenchOutcome).targets.find((t) => t.target === "me/credits / bare read credits, c=64 ≥ 0.7 ×");
    expect(near && measured(near)).toMatch(/^0\.698 ×, short by 0\.002 × \(99\.7 % of the target\)/);
  });

  // `pnpm bench --only` ran these reads and no spend: the spend targets were printed "MISSED … –".
  it("a target whose scenarios did not run is not run, neither met nor missed", () => {
    const { targets } = summarize(outcome);
    const spend = targets.filter((t) => /spend|hot user/.test(t.target));
    expect(spend.map((t) => t.target)).toHaveLength(4);
    for (const t of spend) expect(t).toMatchObject({ notRun: true, met: false, value: "–" });
    // The fixture has users/{id}/balance and no me/balance.
    const balance = targets.filter((t) => t.target.includes("bare read balance, c=64"));
    expect(balance.map((t) => [t.target.split(" ")[0], t.notRun])).toEqual([
      ["users/{id}/balance", undefined],
      ["me/balance", true],
    ]);
  });

  it("a met read says only its figure", () => {
    expect(line("users/{id}/credits / bare read credits, c=64 ≥ 0.7 ×")).toEqual({ met: true, text: "0.72 ×" });
  });
});
