import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { type Figures, pairedRatio, statuses } from "./figures.ts";
import { READ_CONNECTIONS, READ_RATIOS } from "./reads.ts";

// The benchmark's figures, ratios and targets: printed, and written as bench/results/<name>.md,
// .svg and .json.

export interface BenchSettings {
  quick: boolean;
  duration: number;
  warmup: number;
  users: number;
  pool: number;
  webhookConnections: number;
  rounds: number;
  name: string;
  productionFlags: string[];
}

export interface BenchOutcome {
  results: Figures[];
  apiPeakRssMb: number;
  // Users whose balance is not the sum of their ledger after the run, and webhooks credited.
  broken: number;
  credited: number;
  pgVersion: string;
  settings: BenchSettings;
}

export function writeReport(outcome: BenchOutcome, outDir: string, log: (line: string) => void): void {
  const { ratios, readRatios, targets } = summarize(outcome);
  log("\nratios");
  // Only the ratios of scenarios that ran (`--only` runs some).
  for (const r of ratios.filter((x) => Number.isFinite(x.apiBare) || Number.isFinite(x.apiPgbench))) {
    log(
      `  ${r.label.padEnd(20)} API / bare ${r.apiBare.toFixed(2)} (by CPU/req ${r.cpu.toFixed(2)})   API / pgbench ${r.apiPgbench.toFixed(2)}`,
    );
  }
  for (const r of readRatios.filter((x) => Number.isFinite(x.ratio)))
    log(`  ${r.label.padEnd(44)} ${r.ratio.toFixed(2)}   by CPU/req ${r.cpuRatio.toFixed(2)}`);
  log("\ntargets (reported, not asserted)");
  for (const t of targets) log(`  ${verdictOf(t)} ${t.target}: ${measured(t)}`);
  log(`\nwebhook payments credited: ${outcome.credited}`);

  const cpus = os.cpus();
  const machine = `${cpus.length} × ${cpus[0]?.model.trim() ?? "unknown CPU"}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}, PostgreSQL ${outcome.pgVersion}`;
  const date = new Date().toISOString();
  const { name } = outcome.settings;
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, `${name}.md`), markdownOf(outcome, { ratios, readRatios, targets }, machine, date));
  writeFileSync(join(outDir, `${name}.svg`), chart(outcome.results, date, outcome.settings));
  writeFileSync(
    join(outDir, `${name}.json`),
    `${JSON.stringify({ date, machine, results: outcome.results, ratios, readRatios, targets }, null, 2)}\n`,
  );
  log(`\nwrote bench/results/${name}.md, ${name}.svg, ${name}.json`);
}

type Summary = ReturnType<typeof summarize>;

interface Target {
  target: string;
  value: string;
  met: boolean;
  // Its scenarios were not run (`--only`): neither met nor missed.
  notRun?: true;
  // For a miss: by how much, and the reason known for it.
  missedBy?: string;
  why?: string;
}

const verdictOf = (t: Target) => (t.notRun ? "not run" : t.met ? "met   " : "MISSED");
const NOT_RUN = { value: "–", met: false, notRun: true } as const;

export const measured = (t: Target) =>
  [t.value, t.missedBy ? `, ${t.missedBy}` : "", t.why ? `: ${t.why}` : ""].join("");

// A ratio to reach (higher is better): met, or short by how much.
function ratioTarget(target: string, value: number, goal: number, why?: string): Target {
  if (!Number.isFinite(value)) return { target, ...NOT_RUN };
  const met = value >= goal;
  if (met) return { target, value: `${fmt(value, 2)} ×`, met };
  // Enough digits that a near miss does not print as the target itself ("0.70 ×, short by 0.00 ×").
  const digits = fmt(value, 2) === fmt(goal, 2) ? 3 : 2;
  const missedBy = `short by ${fmt(goal - value, digits)} × (${fmt((value / goal) * 100, digits - 2)} % of the target)`;
  return { target, value: `${fmt(value, digits)} ×`, met, missedBy, ...(why ? { why } : {}) };
}

// Why a read misses its ratio (ADR 022, "What is left"): the bare server runs the same one
// statement, so what the API adds per request is its own CPU, whose ratio is printed with it.
const readMissWhy = (cpuRatio: number, owedWork?: number) =>
  `server CPU per request bare / API ${fmt(cpuRatio, 2)}${owedWork === undefined ? "" : `; the bare server doing the work every read owes (credential, schemas, headers, metric: scripts/bench/owed-work.ts) answered ${fmt(owedWork, 2)} × the bare read, the API's layers the rest`}: the JavaScript on the API's request path (the lean route of the four reads: credentials, the store's drizzle query and spans; for the credits reads also the rows mapped to core types and to the answer, and zod's output check of every row; and their garbage; docs/decisions/022-read-path-cpu.md, "What is left" of the fifth pass)`;

export function summarize({ results, apiPeakRssMb, broken }: BenchOutcome) {
  const find = (target: Figures["target"], scenario: string, connections: number) =>
    results.find((r) => r.target === target && r.scenario === scenario && r.connections === connections);
  // Paired by round where both were measured in rounds (figures.ts).
  const ratio = pairedRatio;
  // Bare CPU per request over the API's: the throughput ratio a CPU-bound server would reach.
  const cpuRatio = (a?: Figures, b?: Figures) =>
    a?.cpuMicrosPerRequest && b?.cpuMicrosPerRequest ? b.cpuMicrosPerRequest / a.cpuMicrosPerRequest : Number.NaN;
  const ratios = (["spend:4", "spend:64", "spend hot user:64"] as const).map((key) => {
    const [scenario, c] = key.split(":") as [string, string];
    const apiF = find("api", scenario, Number(c));
    return {
      label: `${scenario} c=${c}`,
      apiBare: ratio(apiF, find("bare", scenario, Number(c))),
      cpu: cpuRatio(apiF, find("bare", scenario, Number(c))),
      apiPgbench: ratio(apiF, find("pgbench", scenario, Number(c))),
    };
  });
  // The reads against the bare server's same statement (reads.ts), at READ_CONNECTIONS.
  // The balance-only reads' floor: the bare read with the work every API read owes (owed-work.ts).
  const owedWork = ratio(
    find("bare", "read balance + owed work", READ_CONNECTIONS),
    find("bare", "read balance", READ_CONNECTIONS),
  );
  const owedWorkOf = (bare: string) => (bare === "read balance" && Number.isFinite(owedWork) ? owedWork : undefined);
  const readRatios = READ_RATIOS.map((r) => ({
    bare: r.bare,
    label: `${r.api} / bare ${r.bare}, c=${READ_CONNECTIONS}`,
    ratio: ratio(find("api", r.api, READ_CONNECTIONS), find("bare", r.bare, READ_CONNECTIONS)),
    cpuRatio: cpuRatio(find("api", r.api, READ_CONNECTIONS), find("bare", r.bare, READ_CONNECTIONS)),
    target: r.target,
  }));
  const p99At4 = find("api", "spend", 4)?.p99 ?? Number.NaN;
  const targets: Target[] = [
    ratioTarget("API ≥ 0.7 × bare, spend at 64 connections", ratios[1]?.apiBare ?? Number.NaN, 0.7),
    Number.isFinite(p99At4)
      ? {
          target: "p99 ≤ 15 ms, spend at 4 connections",
          value: `${p99At4.toFixed(1)} ms`,
          met: p99At4 <= 15,
          ...(p99At4 > 15 ? { missedBy: `over by ${(p99At4 - 15).toFixed(1)} ms` } : {}),
        }
      : { target: "p99 ≤ 15 ms, spend at 4 connections", ...NOT_RUN },
    ratioTarget("hot user ≥ 1.0 × pgbench's hot row", ratios[2]?.apiPgbench ?? Number.NaN, 1),
    ratioTarget("spend at 4 connections ≥ 0.8 × bare", ratios[0]?.apiBare ?? Number.NaN, 0.8),
    ...readRatios.flatMap((r) =>
      r.target === null
        ? []
        : [ratioTarget(`${r.label} ≥ ${r.target} ×`, r.ratio, r.target, readMissWhy(r.cpuRatio, owedWorkOf(r.bare)))],
    ),
    { target: "server peak RSS ≤ 300 MB", value: `${apiPeakRssMb.toFixed(0)} MB`, met: apiPeakRssMb <= 300 },
    {
      target: "balance = sum(ledger) for every user after the run",
      value: `${broken} users off`,
      met: broken === 0,
    },
  ];
  return { ratios, readRatios, targets };
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "–");

function markdownOf(
  { results, credited, settings }: BenchOutcome,
  { ratios, readRatios, targets }: Summary,
  machine: string,
  date: string,
) {
  const table = [
    "| Scenario | Target | Conns | req/s | p50 ms | p99 ms | errors | non-2xx | peak RSS MB | db xacts/req | CPU µs/req |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ...results.map(
      (r) =>
        `| ${r.scenario} | ${r.target} | ${r.connections} | ${fmt(r.rps)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${r.errors} | ${r.non2xx}${statuses(r)} | ${r.peakRssMb === undefined ? "" : fmt(r.peakRssMb)} | ${r.dbXactPerRequest === undefined ? "" : fmt(r.dbXactPerRequest, 2)} | ${r.cpuMicrosPerRequest === undefined ? "" : fmt(r.cpuMicrosPerRequest)} |`,
    ),
  ].join("\n");
  return `# Benchmark: ${settings.quick ? "quick (CI)" : "full"} run

- Date: ${date}
- Machine: ${machine}
- Load generator: autocannon (in the \`pnpm bench\` process, on the same machine), ${settings.duration} s per scenario after ${settings.warmup} s of warm-up, in ${settings.rounds} rounds (each server of a phase in its own process, side by side; the API first, then the bare server first twice, then the API first: ABBA): each figure is the median of its rounds' (errors summed), each throughput ratio the median of the rounds' ratios, the webhooks once after the rounds; pgbench \`-M prepared -j 2\`.
- Data: ${settings.users} users (one grant row each), spends of 1 credit with a unique idempotency key each; webhooks are signed \`checkout.session.completed\` deliveries for distinct open payments (${settings.webhookConnections} connections); reads (\`GET /api/v1/users/{id}/credits\` and \`/balance\` with the API key, \`GET /api/v1/me/credits\` and \`/me/balance\` with a session cookie) of one user with 51 ledger rows, at ${READ_CONNECTIONS} connections.
- Servers: the API is \`startServer\` (the real Hono app, tRPC router with the REST mirror, services, postgres.js) with NODE_ENV=production, LOG_LEVEL=warn, RECONCILE_ENABLED=false, DATABASE_POOL_MAX=${settings.pool}, the heap flags of \`pnpm start\` (${settings.productionFlags.join(" ")}), no web app, no tracing preload; **bare** is \`scripts/bench/bare-server.ts\` (node:http + postgres.js, the same statement per call: the spend, and the balance, grants and newest page in one statement (\`read credits\`) or the balance and next expiry (\`read balance\`), \`scripts/bench/read-sql.ts\`; same pool size); **pgbench** runs the same statement with ${"`-c`"} connections.

![requests per second](${settings.name}.svg)

${table}

## Ratios

| Scenario | API / bare | bare / API CPU per request | API / pgbench |
|---|--:|--:|--:|
${ratios.map((r) => `| ${r.label} | ${fmt(r.apiBare, 2)} | ${fmt(r.cpu, 2)} | ${fmt(r.apiPgbench, 2)} |`).join("\n")}

| Read | API / bare | bare / API CPU per request |
|---|--:|--:|
${readRatios.map((r) => `| ${r.label} | ${fmt(r.ratio, 2)} | ${fmt(r.cpuRatio, 2)} |`).join("\n")}

## Targets (reported, not asserted)

| Target | Measured | Met |
|---|--:|:-:|
${targets.map((t) => `| ${t.target} | ${measured(t)} | ${t.notRun ? "not run" : t.met ? "yes" : "**no**"} |`).join("\n")}

Webhook payments credited during the run: ${credited}. Regenerate with \`pnpm bench\` (\`--quick\` for the CI version).
`;
}

// A grouped horizontal bar chart of requests per second, drawn by hand.
function chart(rows: Figures[], when: string, settings: BenchSettings): string {
  const colors: Record<Figures["target"], string> = { api: "#2563eb", bare: "#16a34a", pgbench: "#9ca3af" };
  const groups = [...new Set(rows.map((r) => `${r.scenario} c=${r.connections}`))];
  const max = Math.max(...rows.map((r) => r.rps), 1);
  const barH = 16;
  const left = 150;
  const width = 760;
  const plotW = width - left - 120;
  let y = 50;
  const parts: string[] = [];
  for (const group of groups) {
    const members = rows.filter((r) => `${r.scenario} c=${r.connections}` === group);
    const groupTop = y;
    for (const r of members) {
      const w = Math.max(1, (r.rps / max) * plotW);
      parts.push(
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${colors[r.target]}"/>`,
        `<text x="${(left + w + 6).toFixed(1)}" y="${y + 12}" font-size="11">${r.rps.toFixed(0)} (${r.target})</text>`,
      );
      y += barH + 3;
    }
    parts.push(`<text x="${left - 8}" y="${(groupTop + y) / 2 + 3}" font-size="12" text-anchor="end">${group}</text>`);
    y += 12;
  }
  const legend = (["api", "bare", "pgbench"] as const)
    .map(
      (t, i) =>
        `<rect x="${left + i * 110}" y="${y + 4}" width="12" height="12" fill="${colors[t]}"/><text x="${left + i * 110 + 18}" y="${y + 14}" font-size="12">${t}</text>`,
    )
    .join("");
  const height = y + 30;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${left}" y="22" font-size="15" font-weight="bold">Requests per second (higher is better)</text>
<text x="${left}" y="38" font-size="11" fill="#555">${when} · ${settings.duration} s per scenario · ${settings.users} users</text>
${parts.join("\n")}
${legend}
</svg>
`;
}
