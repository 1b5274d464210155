import { type FindingKind, findingKinds, type ReconcileProgress, type ReconciliationRun } from "@credits/core";

// What `pnpm cli reconcile` prints: progress on stderr (a redrawn bar on a terminal, one plain
// line per phase otherwise, so logs stay readable) and the summary table on stdout.

const BAR_WIDTH = 24;

export type ProgressStream = Pick<NodeJS.WriteStream, "write"> & { isTTY?: boolean };

export function progressReporter(stream: ProgressStream): {
  onProgress: (progress: ReconcileProgress) => void;
  done: (label?: string) => void;
} {
  let lastPhase: string | null = null;
  let drawn = false;
  return {
    onProgress(progress) {
      const counts = `${progress.sessionsSeen} sessions, ${progress.chargesSeen} charges, ${progress.paymentsChecked} payments, ${progress.findings} findings`;
      if (stream.isTTY) {
        const filled = Math.round((BAR_WIDTH * (progress.step - 1)) / progress.steps);
        const bar = `${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}`;
        stream.write(`\r\x1b[Kreconcile [${bar}] ${progress.step}/${progress.steps} ${progress.phase}: ${counts}`);
        drawn = true;
      } else if (progress.phase !== lastPhase) {
        stream.write(`reconcile: ${progress.step}/${progress.steps} ${progress.phase} (${counts})\n`);
      }
      lastPhase = progress.phase;
    },
    done(label = "done") {
      if (drawn) stream.write(`\r\x1b[Kreconcile [${"#".repeat(BAR_WIDTH)}] ${label}\n`);
    },
  };
}

export function summaryTable(run: ReconciliationRun): string {
  const stats = run.stats;
  const lines = [
    `run        ${run.id} (${run.trigger}, ${run.status})`,
    `window     ${run.windowStart.toISOString()} .. ${run.windowEnd.toISOString()}`,
    `duration   ${((stats?.durationMs ?? 0) / 1000).toFixed(2)} s`,
  ];
  if (!stats) return lines.join("\n");
  lines.push(
    `seen       ${stats.sessionsSeen} sessions (${stats.sessionsForeign} not ours), ${stats.chargesSeen} charges (${stats.chargesUnmatched} unmatched), ${stats.intentsSeen ?? 0} auto top-up PaymentIntents, ${stats.paymentsChecked} payments, ${stats.usersChecked} users (${stats.ledgerPass ?? "full"} ledger pass)`,
    "",
  );
  // A run stored before a kind existed has no count for it: "-", not a zero it never checked.
  const found: Partial<Record<FindingKind, number>> = stats.findings;
  const healed: Partial<Record<FindingKind, number>> = stats.healedByKind;
  const counted = (count: number | undefined) => (count === undefined ? "-" : String(count));
  const rows = findingKinds.map((kind) => [kind, counted(found[kind]), counted(healed[kind])]);
  const total = [
    "total",
    String(findingKinds.reduce((sum, kind) => sum + (found[kind] ?? 0), 0)),
    String(stats.healed),
  ];
  const table = [["finding", "found", "healed"], ...rows, total];
  const width = Math.max(...table.map(([kind]) => (kind ?? "").length));
  for (const [kind = "", found = "", healed = ""] of table) {
    lines.push(`${kind.padEnd(width)}  ${found.padStart(6)}  ${healed.padStart(6)}`);
  }
  if (stats.healedElsewhere > 0)
    lines.push("", `${stats.healedElsewhere} healed meanwhile by a webhook or another run`);
  if (stats.findingsTruncated) lines.push("", "more findings than a run stores: only the first are listed");
  if (stats.ledgerUnlisted) {
    lines.push(
      `${stats.ledgerUnlisted} users in ledger violation not listed: still flagged, listed first by the next run`,
    );
  }
  if (stats.error) lines.push("", `error: ${stats.error}`);
  return lines.join("\n");
}
