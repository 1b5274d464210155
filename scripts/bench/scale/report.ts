import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import type { Read, ReadFigures } from "./reads.ts";

// The scale bench's table: each read at both ledger sizes, its growth, and the targets of
// issue 17 (p99 ≤ 50 ms at the larger size, growth ≤ 1.2×) met or missed by how much. Growth is
// the ratio of medians: a p99 on two shared cores is much more the neighbours' noise than a median.

export const TARGET_P99_MS = 50;
export const TARGET_GROWTH = 1.2;

export interface SizeFigures {
  ledgerRows: number;
  // credit_transactions with its indexes, against PostgreSQL's shared buffers.
  ledgerBytes: number;
  // The 1-minute load average when the size's reads began and ended.
  load: { before: number; after: number };
  figures: ReadFigures[];
}

export interface ScaleRun {
  quick: boolean;
  users: number;
  heavyRows: number;
  samples: number;
  // Samples of the reads without the 50 ms target (the export, the ledger passes).
  batchSamples: number;
  // PostgreSQL's shared_buffers setting, as it prints it ("128MB").
  sharedBuffers: string;
  sizes: SizeFigures[];
  // Per read: whether the 50 ms target applies (not to a whole-history export or a batch job),
  // and why it grows when it does so by design.
  reads: Pick<Read, "read" | "userFacing" | "growsBecause">[];
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const blocks = (f: ReadFigures) => (f.blocksRead === undefined ? "?" : f.blocksRead.toFixed(0));
const touched = (f: ReadFigures) => (f.pagesTouched === undefined ? "?" : f.pagesTouched.toFixed(0));
const peakLoad = (size: SizeFigures) => Math.max(size.load.before, size.load.after);

// A growth explained by pages no longer in memory: the larger size read at least twice the blocks
// per call from outside shared buffers, and at least 100 (0.8 MB): the same work on colder pages.
function colder(blocksRead: { small?: number; large?: number }, sharedBuffers: string): string | null {
  const [before, after] = [blocksRead.small ?? 0, blocksRead.large ?? 0];
  if (after < 100 || after < 2 * before) return null;
  return `${after.toFixed(0)} blocks (8 kB) per call read from outside PostgreSQL's shared buffers (${sharedBuffers}) at the larger size against ${before.toFixed(0)} at the smaller: the same rows on pages no longer in memory`;
}

type AtSizes = { small?: number; large?: number };

// A growth of time that the database's work does not explain: the pages the read touched per call
// grew by too few to cost half of it (a page in shared buffers costs PostgreSQL about a
// microsecond; counted at 5), and the answer grew by no more than the target, so the time grew in
// the server process or on the machine (a median of 20 calls on 2 cores moves by a millisecond or
// more), not with the ledger. Pages touched carry the background's variance, tens per call.
const MS_PER_PAGE = 0.005;
function notTheDatabase(p50: { small: number; large: number }, pagesTouched: AtSizes, bytes: AtSizes): string | null {
  const { small: p0, large: p1 } = pagesTouched;
  const { small: b0, large: b1 } = bytes;
  if (p0 === undefined || p1 === undefined || b0 === undefined || b1 === undefined) return null;
  const grewMs = p50.large - p50.small;
  const pagesMs = Math.max(0, p1 - p0) * MS_PER_PAGE;
  if (pagesMs >= grewMs / 2 || b1 > b0 * TARGET_GROWTH) return null;
  return `the database's extra work explains at most ${pagesMs.toFixed(2)} of its ${grewMs.toFixed(1)} ms (${p0.toFixed(0)} / ${p1.toFixed(0)} pages touched per call, ${MS_PER_PAGE * 1000} µs each; answers of ${b0} / ${b1} bytes): its time grew in the server process or on the machine, not with the ledger`;
}

// Each target line of a read: met, or missed by how much and, where the run can tell, why. Known
// reasons: the read grows by design; it read its pages from outside shared buffers at the larger
// size; the machine was busier than its cores (a sample waits for a core, which a p99 of
// one-at-a-time reads shows first); the load rose between the sizes, or was above the cores at
// both; the database's extra work is too little to explain it.
export function verdict(
  read: ScaleRun["reads"][number],
  figures: { p50: number; p99: number; growth: number; blocksRead?: AtSizes; pagesTouched?: AtSizes; bytes?: AtSizes },
  sizes: { small: SizeFigures; large: SizeFigures },
  cores: number,
  sharedBuffers = "?",
): string {
  const lines: string[] = [];
  const large = peakLoad(sizes.large);
  const busy = large > cores ? `load average up to ${large.toFixed(1)} on ${cores} cores at the larger size` : null;
  const p99 = `p99 ≤ ${TARGET_P99_MS} ms`;
  if (!read.userFacing) lines.push(`${p99}: not a target (whole history or batch)`);
  else if (figures.p99 <= TARGET_P99_MS) lines.push(`${p99}: met (${ms(figures.p99)} ms)`);
  else {
    const why = busy ?? (figures.p50 <= TARGET_P99_MS ? "no known reason (the median meets it)" : "no known reason");
    const over = `${ms(figures.p99 - TARGET_P99_MS)} ms (${ms(figures.p99)} ms, ${(figures.p99 / TARGET_P99_MS).toFixed(1)}×)`;
    lines.push(`${p99}: MISSED by ${over}: ${why}`);
  }
  const growth = `growth ≤ ${TARGET_GROWTH}×`;
  if (figures.growth <= TARGET_GROWTH) lines.push(`${growth}: met (${figures.growth.toFixed(2)}×)`);
  else {
    const small = peakLoad(sizes.small);
    const rose =
      large > cores && large > small * TARGET_GROWTH
        ? `load average rose from ${small.toFixed(1)} to ${large.toFixed(1)} between the sizes`
        : null;
    // Both sizes on a busy machine: one-at-a-time medians move with the neighbours' work.
    const noisy =
      Math.max(small, large) > cores
        ? `load average ${small.toFixed(1)} and ${large.toFixed(1)} on ${cores} cores at the two sizes (medians that noisy)`
        : null;
    const cold = colder(figures.blocksRead ?? {}, sharedBuffers);
    const p50 = { small: figures.p50 / figures.growth, large: figures.p50 };
    const elsewhere = notTheDatabase(p50, figures.pagesTouched ?? {}, figures.bytes ?? {});
    const why = read.growsBecause ?? cold ?? rose ?? noisy ?? elsewhere ?? "no known reason";
    // A near miss with enough digits not to print as the target ("MISSED by 0 % (1.20×)").
    const overPercent = (figures.growth / TARGET_GROWTH - 1) * 100;
    const near = overPercent < 1;
    const over = `${overPercent.toFixed(near ? 1 : 0)} % (${figures.growth.toFixed(near ? 3 : 2)}×)`;
    lines.push(`${growth}: MISSED by ${over}: ${why}`);
  }
  return lines.join("; ");
}

export function writeScaleReport(run: ScaleRun, dir: string, log: (line: string) => void) {
  const [small, large] = run.sizes;
  if (!small || !large) throw new Error("two sizes expected");
  const header = `| read | p50 / p99 ms at ${small.ledgerRows.toLocaleString("en")} rows | p50 / p99 ms at ${large.ledgerRows.toLocaleString("en")} rows | growth (p50) | blocks read per call | pages touched per call | target |`;
  const lines = [header, "|---|--:|--:|--:|--:|--:|---|"];
  const rows = small.figures.map((a, i) => {
    const b = large.figures[i] as ReadFigures;
    const growth = a.p50 > 0 ? b.p50 / a.p50 : 1;
    const read = run.reads[i] ?? { read: a.read, userFacing: true };
    const blocksRead = { small: a.blocksRead, large: b.blocksRead };
    const pagesTouched = { small: a.pagesTouched, large: b.pagesTouched };
    const bytes = { small: a.bytes, large: b.bytes };
    const figures = { p50: b.p50, p99: b.p99, growth, blocksRead, pagesTouched, bytes };
    const target = verdict(read, figures, { small, large }, os.cpus().length, run.sharedBuffers);
    lines.push(
      `| ${a.read} | ${ms(a.p50)} / ${ms(a.p99)} | ${ms(b.p50)} / ${ms(b.p99)} | ${growth.toFixed(2)}× | ${blocks(a)} / ${blocks(b)} | ${touched(a)} / ${touched(b)} | ${target} |`,
    );
    return { read: a.read, small: a, large: b, growth, target };
  });
  const loads = (size: SizeFigures) => `${size.load.before.toFixed(2)} → ${size.load.after.toFixed(2)}`;
  const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), load average (1 min, before → after the reads) ${loads(small)} at the smaller size, ${loads(large)} at the larger`;
  const memory = rows
    .filter((row) => row.large.rssGrowthBytes !== undefined)
    .map(
      (row) =>
        `${row.read}: ${mb(row.small.bytes)} / ${mb(row.large.bytes)} MB sent, the server's resident memory rose at most ${mb(row.small.rssGrowthBytes ?? 0)} / ${mb(row.large.rssGrowthBytes ?? 0)} MB during it (at the two sizes).`,
    );
  const notes = [
    ...memory,
    `${run.users.toLocaleString("en")} users; the heavy user has ${run.heavyRows.toLocaleString("en")} ledger rows at both sizes; ${run.samples} samples per read (${run.batchSamples} for the export and the ledger passes), one at a time, after 10 warm-ups (2 for the export and the ledger passes).`,
    `Targets (issue 17): p99 ≤ ${TARGET_P99_MS} ms at the larger size for user-facing and admin reads, growth ≤ ${TARGET_GROWTH}× (ratio of medians) for every read. Reported, not asserted.`,
    machine,
    `credit_transactions with its indexes: ${mb(small.ledgerBytes)} MB at the smaller size, ${mb(large.ledgerBytes)} MB at the larger; PostgreSQL's shared_buffers ${run.sharedBuffers}. "Blocks read per call": 8 kB blocks read from outside shared buffers (from the OS's cache or the disk) per call, over every backend of the database, the server's background work included; "pages touched per call": the same with the pages found in shared buffers (the database's work, whatever the load), less the server's background work at the rate measured over a window without reads.`,
  ];
  log(`\n${lines.join("\n")}\n\n${notes.join("\n")}`);
  mkdirSync(dir, { recursive: true });
  const name = run.quick ? "scale-quick" : "scale-latest";
  writeFileSync(join(dir, `${name}.md`), `# Scale bench\n\n${lines.join("\n")}\n\n${notes.join("\n\n")}\n`);
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify({ ...run, rows }, null, 2)}\n`);
  log(`\nwritten: bench/results/${name}.md, .json`);
}
