// Issue 17's read targets as `pnpm bench` reports them: every balance-only API read is measured
// against the bare server's balance-only read (the same one statement, scripts/bench/read-sql.ts)
// with the 0.7 × target, and against the bare full read at 1 × (at least as fast as it).
import { describe, expect, it } from "vitest";
import { apiReads, bareReads, READ_RATIOS, READ_TARGET } from "../bench/reads.ts";

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
