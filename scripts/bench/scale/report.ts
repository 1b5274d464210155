import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import type { ReadFigures } from "./reads.ts";

// The scale bench's table: each read at both ledger sizes, its growth, and the targets of
// issue 17 (p99 ≤ 50 ms at the larger size, growth ≤ 1.2×) met or missed by how much. Growth is
// the ratio of medians: a p99 of 20 samples on two shared cores is mostly the neighbours' noise.

export const TARGET_P99_MS = 50;
export const TARGET_GROWTH = 1.2;

export interface SizeFigures {
  ledgerRows: number;
  loadAverage: number;
  figures: ReadFigures[];
}

export interface ScaleRun {
  quick: boolean;
  users: number;
  heavyRows: number;
  samples: number;
  sizes: SizeFigures[];
  // Per read: whether the 50 ms target applies (not to a whole-history export or a batch job).
  userFacing: boolean[];
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

function verdict(p99: number, growth: number, userFacing: boolean): string {
  const misses: string[] = [];
  if (userFacing && p99 > TARGET_P99_MS)
    misses.push(`p99 ${(p99 / TARGET_P99_MS).toFixed(1)}× the ${TARGET_P99_MS} ms`);
  if (growth > TARGET_GROWTH) misses.push(`grows ${growth.toFixed(2)}× (> ${TARGET_GROWTH}×)`);
  return misses.length === 0 ? "met" : `missed: ${misses.join(", ")}`;
}

export function writeScaleReport(run: ScaleRun, dir: string, log: (line: string) => void) {
  const [small, large] = run.sizes;
  if (!small || !large) throw new Error("two sizes expected");
  const header = `| read | p50 / p99 ms at ${small.ledgerRows.toLocaleString("en")} rows | p50 / p99 ms at ${large.ledgerRows.toLocaleString("en")} rows | growth (p50) | target |`;
  const lines = [header, "|---|--:|--:|--:|---|"];
  const rows = small.figures.map((a, i) => {
    const b = large.figures[i] as ReadFigures;
    const growth = a.p50 > 0 ? b.p50 / a.p50 : 1;
    const target = verdict(b.p99, growth, run.userFacing[i] ?? true);
    lines.push(
      `| ${a.read} | ${ms(a.p50)} / ${ms(a.p99)} | ${ms(b.p50)} / ${ms(b.p99)} | ${growth.toFixed(2)}× | ${target} |`,
    );
    return { read: a.read, small: a, large: b, growth, target };
  });
  const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), load average ${small.loadAverage.toFixed(2)} / ${large.loadAverage.toFixed(2)} at the two sizes`;
  const memory = rows
    .filter((row) => row.large.rssGrowthBytes !== undefined)
    .map(
      (row) =>
        `${row.read}: ${mb(row.small.bytes)} / ${mb(row.large.bytes)} MB sent, the server's resident memory rose at most ${mb(row.small.rssGrowthBytes ?? 0)} / ${mb(row.large.rssGrowthBytes ?? 0)} MB during it (at the two sizes).`,
    );
  const notes = [
    ...memory,
    `${run.users.toLocaleString("en")} users; the heavy user has ${run.heavyRows.toLocaleString("en")} ledger rows at both sizes; ${run.samples} samples per read (a fifth of that for the export and the invariant check), one at a time, after 2 warm-ups.`,
    `Targets (issue 17): p99 ≤ ${TARGET_P99_MS} ms at the larger size for user-facing and admin reads, growth ≤ ${TARGET_GROWTH}× (ratio of medians) for every read. Reported, not asserted.`,
    machine,
  ];
  log(`\n${lines.join("\n")}\n\n${notes.join("\n")}`);
  mkdirSync(dir, { recursive: true });
  const name = run.quick ? "scale-quick" : "scale-latest";
  writeFileSync(join(dir, `${name}.md`), `# Scale bench\n\n${lines.join("\n")}\n\n${notes.join("\n\n")}\n`);
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify({ ...run, rows }, null, 2)}\n`);
  log(`\nwritten: bench/results/${name}.md, .json`);
}
