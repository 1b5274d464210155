// `pnpm bench --scale`'s target lines (issue 17): each says met, or missed by how much and the
// reason the run can tell (a read that grows by design, pages read from outside shared buffers, a
// machine busier than its cores, load that rose between the sizes), from the blocks read and the
// load averages it printed before and after each size.
import { describe, expect, it } from "vitest";
import { type SizeFigures, verdict } from "../bench/scale/report.ts";

const size = (before: number, after: number): SizeFigures => ({
  ledgerRows: 1,
  ledgerBytes: 1,
  load: { before, after },
  figures: [],
});
const read = { read: "me/credits", userFacing: true };

describe("scale bench target lines", () => {
  it("says met with the figure for each target", () => {
    const line = verdict(read, { p50: 4, p99: 38.2, growth: 0.95 }, { small: size(1, 1), large: size(1.5, 1) }, 2);
    expect(line).toBe("p99 ≤ 50 ms: met (38.2 ms); growth ≤ 1.2×: met (0.95×)");
  });

  it("says by how much a p99 misses, and that the machine was busier than its cores", () => {
    const line = verdict(read, { p50: 20, p99: 80, growth: 1.1 }, { small: size(3, 4), large: size(9, 6) }, 2);
    expect(line).toContain("p99 ≤ 50 ms: MISSED by 30.0 ms (80.0 ms, 1.6×): load average up to 9.0 on 2 cores");
  });

  it("prints a near miss with enough digits not to read as the target", () => {
    const line = verdict(read, { p50: 4, p99: 6, growth: 1.2049 }, { small: size(1, 1), large: size(0.4, 0.1) }, 2);
    expect(line).toContain("growth ≤ 1.2×: MISSED by 0.4 % (1.205×): no known reason");
  });

  it("blames the load's rise between the sizes for a growth, unless the read grows by design", () => {
    const sizes = { small: size(1, 1.5), large: size(6, 8) };
    expect(verdict(read, { p50: 12, p99: 40, growth: 1.8 }, sizes, 2)).toContain(
      "growth ≤ 1.2×: MISSED by 50 % (1.80×): load average rose from 1.5 to 8.0 between the sizes",
    );
    const full = { read: "full pass", userFacing: false, growsBecause: "reads the whole ledger by design" };
    expect(verdict(full, { p50: 900, p99: 1000, growth: 9 }, sizes, 2)).toBe(
      "p99 ≤ 50 ms: not a target (whole history or batch); growth ≤ 1.2×: MISSED by 650 % (9.00×): reads the whole ledger by design",
    );
  });

  it("blames pages read from outside shared buffers before the load, and only a clear rise of them", () => {
    const sizes = { small: size(1, 1.5), large: size(6, 8) };
    const cold = { p50: 90, p99: 97, growth: 5.4, blocksRead: { small: 3, large: 1_130 } };
    expect(verdict({ ...read, userFacing: false }, cold, sizes, 2, "128MB")).toBe(
      "p99 ≤ 50 ms: not a target (whole history or batch); growth ≤ 1.2×: MISSED by 350 % (5.40×): 1130 blocks (8 kB) per call read from outside PostgreSQL's shared buffers (128MB) at the larger size against 3 at the smaller: the same rows on pages no longer in memory",
    );
    const few = { ...cold, blocksRead: { small: 3, large: 99 } };
    expect(verdict(read, few, sizes, 2, "128MB")).toContain("load average rose from 1.5 to 8.0");
    const alike = { ...cold, blocksRead: { small: 600, large: 1_130 } };
    expect(verdict(read, alike, sizes, 2, "128MB")).toContain("load average rose from 1.5 to 8.0");
  });

  it("says a growth was measured on a machine busier than its cores at both sizes", () => {
    const line = verdict(
      read,
      { p50: 12, p99: 40, growth: 1.3 },
      { small: size(15.7, 15.6), large: size(14.5, 13.2) },
      2,
    );
    expect(line).toContain(
      "growth ≤ 1.2×: MISSED by 8 % (1.30×): load average 15.7 and 14.5 on 2 cores at the two sizes (medians that noisy)",
    );
  });

  it("says when the database's extra work is too little to explain a growth of time", () => {
    const sizes = { small: size(1, 1), large: size(1, 1) };
    // 3.2 → 4.1 ms; 4 → 43 pages per call is 0.2 ms at most.
    const figures = {
      p50: 4.1,
      p99: 13,
      growth: 4.1 / 3.2,
      pagesTouched: { small: 4, large: 43 },
      bytes: { small: 9_120, large: 9_133 },
    };
    expect(verdict(read, figures, sizes, 2)).toBe(
      "p99 ≤ 50 ms: met (13.0 ms); growth ≤ 1.2×: MISSED by 7 % (1.28×): the database's extra work explains at most 0.20 of its 0.9 ms (4 / 43 pages touched per call, 5 µs each; answers of 9120 / 9133 bytes): its time grew in the server process or on the machine, not with the ledger",
    );
    // Enough more pages to cost half the growth, or a larger answer: the run knows no reason.
    for (const grown of [
      { ...figures, pagesTouched: { small: 4, large: 94 } },
      { ...figures, bytes: { small: 9_120, large: 11_000 } },
    ]) {
      expect(verdict(read, grown, sizes, 2)).toContain("MISSED by 7 % (1.28×): no known reason");
    }
  });

  it("says when it knows no reason", () => {
    const line = verdict(read, { p50: 30, p99: 60, growth: 2 }, { small: size(1, 1), large: size(1, 1) }, 2);
    expect(line).toBe(
      "p99 ≤ 50 ms: MISSED by 10.0 ms (60.0 ms, 1.2×): no known reason (the median meets it); growth ≤ 1.2×: MISSED by 67 % (2.00×): no known reason",
    );
  });
});
