import autocannon, { type Request } from "autocannon";
import type { Sql } from "postgres";
import { type Figures, medianRound, printFigures } from "./figures.ts";
import { cpuMicros, type startChild, statusKb, stopChild } from "./processes.ts";

// Load on the servers the bench measures: autocannon against a server process, with the process's
// CPU and memory and the database's transactions per request; and the phases, each server of a
// phase in its own process, measured in alternating rounds.

export interface Scenario {
  scenario: string;
  connections: number;
  setupRequest: (req: Request) => Request;
}
interface Load extends Scenario {
  target: Figures["target"];
  url: string;
  pid: number;
}
export interface LoadSettings {
  pg: Sql;
  dbName: string;
  duration: number;
  warmup: number;
  rounds: number;
  log: (line: string) => void;
}
// A server of a phase: what it is, how it starts, and the scenarios it serves.
export interface Side {
  target: "api" | "bare";
  start: () => ReturnType<typeof startChild>;
  loads: Scenario[];
}
type Running = Side & { url: string; pid: number; child: Awaited<ReturnType<typeof startChild>>["child"] };

function cannon(url: string, connections: number, duration: number, setupRequest: Scenario["setupRequest"]) {
  return autocannon({ url, connections, duration, requests: [{ method: "GET", path: "/", setupRequest }] });
}

// Committed transactions of the bench database. A backend reports its counts at most once a
// second while it works, and one that goes idle with counts pending reports them up to 10 s later
// (PostgreSQL's PGSTAT_IDLE_INTERVAL): read a second after a load, up to a second of each pool
// connection's work went to the next scenario (the balance reads, one transaction each, showed
// 1.16 and 0.74). So a scenario's count is read before its warm-up (the previous one's settled)
// and again once its own has settled, and covers the warm-up's requests with the run's. Only the
// first round counts them (the count is the same in every round, the 11.6 s of waiting is not);
// a load that counts after one that did not (the webhooks after the last round) first waits for
// the other's counts to settle (review 15: else up to a second of each pool connection's reads
// counted against the webhooks).
const STATS_SETTLE_MS = 10_500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function loadRunner(settings: LoadSettings) {
  const runLoad = loadOf(settings);
  return { runLoad, runPhase: phaseOf(settings, runLoad) };
}

type RunLoad = (load: Load, countXacts: boolean) => Promise<Figures>;

function loadOf({ pg, dbName, duration, warmup, log }: LoadSettings): RunLoad {
  async function xactCommits(settleMs: number): Promise<number> {
    await sleep(settleMs);
    await pg`SELECT pg_stat_clear_snapshot()`;
    const [row] = await pg`SELECT xact_commit::bigint AS n FROM pg_stat_database WHERE datname = ${dbName}`;
    return Number(row?.n ?? 0);
  }
  // Whether PostgreSQL's counts of the last load have settled: after a load that did not wait for
  // them (rounds after the first), a load that counts waits the whole time before its first count.
  let settled = true;

  return async (load, countXacts) => {
    const xactBefore = countXacts ? await xactCommits(settled ? 1_100 : STATS_SETTLE_MS) : 0;
    const warmedUp =
      warmup > 0 ? ((await cannon(load.url, load.connections, warmup, load.setupRequest))["2xx"] as number) : 0;
    let peak = statusKb(load.pid, "VmRSS");
    const sampler = setInterval(() => {
      peak = Math.max(peak, statusKb(load.pid, "VmRSS"));
    }, 100);
    const cpuBefore = cpuMicros(load.pid);
    const result = await cannon(load.url, load.connections, duration, load.setupRequest);
    const cpu = cpuMicros(load.pid) - cpuBefore;
    clearInterval(sampler);
    peak = Math.max(peak, statusKb(load.pid, "VmHWM"));
    const ok = result["2xx"] as number;
    const xacts = countXacts ? (await xactCommits(STATS_SETTLE_MS)) - xactBefore : Number.NaN;
    settled = countXacts;
    const figures = figuresOf(load, result, { ok, warmedUp, cpu, peakKb: peak, xacts });
    printFigures(figures, log);
    return figures;
  };
}

type Result = Awaited<ReturnType<typeof cannon>>;
type Measured = { ok: number; warmedUp: number; cpu: number; peakKb: number; xacts: number };

function figuresOf(load: Load, result: Result, { ok, warmedUp, cpu, peakKb, xacts }: Measured): Figures {
  return {
    scenario: load.scenario,
    target: load.target,
    connections: load.connections,
    rps: ok / (result.duration as number),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: (result.errors as number) + (result.timeouts as number),
    non2xx: result.non2xx as number,
    requests: ok,
    peakRssMb: peakKb / 1024,
    ...(Number.isNaN(xacts) ? {} : { dbXactPerRequest: ok > 0 ? xacts / (warmedUp + ok) : 0 }),
    cpuMicrosPerRequest: ok > 0 ? cpu / ok : Number.NaN,
    otherStatuses: Object.fromEntries(
      Object.entries((result.statusCodeStats ?? {}) as Record<string, { count: number }>)
        .filter(([code]) => !code.startsWith("2"))
        .map(([code, { count }]) => [code, count]),
    ),
  };
}

// Which server goes first in a round: the API, the bare server, the bare server, the API (ABBA,
// then again), so that over each four rounds each goes first as often and second as often, and an
// after-effect of the first (its garbage, PostgreSQL's autovacuum) falls on both alike.
export const apiFirstIn = (round: number) => round % 4 === 0 || round % 4 === 3;

// A phase's servers run side by side, each in its own process, each warmed up on its own scenarios;
// then `rounds` rounds of every scenario, the servers in apiFirstIn's order, so that a slower
// stretch of the machine (2 cores shared with PostgreSQL and the load generator) falls on both
// alike. A scenario's figures are its rounds' medians, with every round's rate (report.ts pairs them
// by round for the ratios). Separate processes per phase: a process that had just served the
// spends answered the reads slower, the bare server's more than the API's (bare read credits: 618
// req/s after its spends in a gate, 1,602-1,705 alone), so a read's ratio depended on what ran
// before it. `last` runs once on the API's process after the rounds. Returns the scenarios' figures
// and the API process's peak RSS.
function phaseOf({ warmup, rounds, log }: LoadSettings, runLoad: RunLoad) {
  // Before its first measured scenario, a server serves each of its scenarios for the warm-up time,
  // unmeasured: else the first scenario of a code path pays for compiling it (V8's optimizing tiers,
  // on the same two cores), and its figure depends on the order (issue 17: users/{id}/credits, first
  // of the reads, 1,441 µs of CPU per request and me/credits 1,211; in the other order me/credits
  // 2,114 and users/{id}/credits 914). Then PostgreSQL's counts settle (runLoad).
  async function warmUp(url: string, loads: Scenario[]) {
    if (warmup <= 0) return;
    for (const load of loads) await cannon(url, load.connections, warmup, load.setupRequest);
    await sleep(STATS_SETTLE_MS);
  }

  return async (sides: Side[], last?: (url: string, pid: number) => Promise<Figures>) => {
    const running: Running[] = [];
    for (const side of sides.filter((s) => s.loads.length > 0 || (s.target === "api" && last))) {
      const { child, url } = await side.start();
      running.push({ ...side, child, url, pid: child.pid as number });
    }
    for (const side of running) await warmUp(side.url, side.loads);
    const measured = new Map<string, Figures[]>();
    const anyLoads = running.some((side) => side.loads.length > 0);
    for (let round = 0; round < (anyLoads ? rounds : 0); round += 1) {
      if (rounds > 1) log(`  round ${round + 1} of ${rounds}`);
      for (const side of apiFirstIn(round) ? running : [...running].reverse()) {
        for (const load of side.loads) {
          const figures = await runLoad({ ...load, target: side.target, url: side.url, pid: side.pid }, round === 0);
          const key = `${side.target} ${load.scenario} ${load.connections}`;
          measured.set(key, [...(measured.get(key) ?? []), figures]);
        }
      }
    }
    const results = [...measured.values()].map(medianRound);
    const api = running.find((side) => side.target === "api");
    if (api && last) results.push(await last(api.url, api.pid));
    const apiPeakRssMb = api ? statusKb(api.pid, "VmHWM") / 1024 : 0;
    for (const side of running) await stopChild(side.child);
    return { results, apiPeakRssMb };
  };
}
