// A scenario's figures as the bench measures them (load.ts, pgbench.ts), printed one line each.

export interface Figures {
  scenario: string;
  target: "api" | "bare" | "pgbench";
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  requests: number;
  peakRssMb?: number;
  // Statements the database ran per successful request (its transaction count over the run).
  dbXactPerRequest?: number;
  // The server process's own CPU time per successful request (user + system, /proc).
  cpuMicrosPerRequest?: number;
  // Non-2xx answers by status code, e.g. { "409": 3 }.
  otherStatuses?: Record<string, number>;
  // The rate of each round, when measured in rounds (medianRound).
  roundRps?: number[];
}

export const statuses = (f: Figures) => {
  const entries = Object.entries(f.otherStatuses ?? {});
  return entries.length ? ` (${entries.map(([code, n]) => `${n}× ${code}`).join(", ")})` : "";
};

export function printFigures(f: Figures, log: (line: string) => void) {
  const rss = f.peakRssMb === undefined ? "" : `  peak RSS ${f.peakRssMb.toFixed(0)} MB`;
  const xacts = f.dbXactPerRequest === undefined ? "" : `  db xacts/req ${f.dbXactPerRequest.toFixed(2)}`;
  const cpu = f.cpuMicrosPerRequest === undefined ? "" : `  cpu ${f.cpuMicrosPerRequest.toFixed(0)} µs/req`;
  log(
    `  ${f.target.padEnd(7)} ${f.scenario.padEnd(16)} c=${String(f.connections).padEnd(3)} ${f.rps.toFixed(0).padStart(6)} req/s  p50 ${f.p50.toFixed(1)} ms  p99 ${f.p99.toFixed(1)} ms  errors ${f.errors}  non-2xx ${f.non2xx}${statuses(f)}${rss}${xacts}${cpu}`,
  );
}

// A scenario measured in several rounds (load.ts runPhase), as one figure: each figure the median of
// the rounds' (one slow or fast round moves none), errors and non-2xx answers summed, the peak RSS the
// highest, the database's transactions per request the first round's (the only one that counts them),
// and every round's rate kept, for ratios paired by round.

// Of the finite values only: a round with no successful answer has no CPU per request (NaN).
const median = (values: number[]) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

export function medianRound(rounds: Figures[]): Figures {
  const [first] = rounds;
  if (!first) throw new Error("medianRound: no rounds");
  const of = (field: "rps" | "p50" | "p99" | "cpuMicrosPerRequest") =>
    median(rounds.map((r) => r[field] ?? Number.NaN));
  const statuses: Record<string, number> = {};
  for (const round of rounds) {
    for (const [code, count] of Object.entries(round.otherStatuses ?? {}))
      statuses[code] = (statuses[code] ?? 0) + count;
  }
  return {
    ...first,
    rps: of("rps"),
    p50: of("p50"),
    p99: of("p99"),
    cpuMicrosPerRequest: of("cpuMicrosPerRequest"),
    errors: sum(rounds.map((r) => r.errors)),
    non2xx: sum(rounds.map((r) => r.non2xx)),
    requests: sum(rounds.map((r) => r.requests)),
    peakRssMb: Math.max(...rounds.map((r) => r.peakRssMb ?? 0)),
    otherStatuses: statuses,
    roundRps: rounds.map((r) => r.rps),
  };
}

// a's rate over b's: the median of the rounds' ratios when both were measured in the same rounds
// (each round's pair ran minutes apart at most, on the machine as it was then), else the ratio of
// the rates (pgbench runs once).
export function pairedRatio(a?: Figures, b?: Figures): number {
  if (!a || !b) return Number.NaN;
  const [ra, rb] = [a.roundRps, b.roundRps];
  if (ra && rb && ra.length === rb.length && ra.length > 0) {
    // A round in which the baseline answered nothing has no ratio; none at all, no figure.
    return median(ra.map((rps, i) => ((rb[i] as number) > 0 ? rps / (rb[i] as number) : Number.NaN)));
  }
  return b.rps > 0 ? a.rps / b.rps : Number.NaN;
}
