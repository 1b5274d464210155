import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import type { Figures } from "./figures.ts";
import { BENCH_USER_ID_SQL, SPEND_SQL } from "./spend-sql.ts";

// pgbench running the server's own spend statement: the database's limit for the same work.
export function runPgbench(
  scenario: string,
  connections: number,
  hot: boolean,
  options: {
    users: number;
    warmup: number;
    duration: number;
    host: string;
    port: string;
    user: string;
    database: string;
  },
): Figures {
  const dir = mkdtempSync(join(os.tmpdir(), "bench-pgbench-"));
  const script = join(dir, "spend.sql");
  const statement = SPEND_SQL.replace(/\$1::uuid/g, BENCH_USER_ID_SQL(":uid"))
    .replace(/\$2::bigint/g, "-1::bigint")
    .replace(/\$3::boolean/g, "false::boolean")
    .replace(/\$4::credit_transaction_kind/g, "'spend'::credit_transaction_kind")
    .replace(/\$5::text/g, "('pgb-' || :client_id::text || '-' || :r::text)")
    .replace(/\$6::text/g, "NULL::text");
  // pgbench variables become bind parameters under -M prepared: the user id and the key are
  // parameters, as in the server's statement.
  writeFileSync(
    script,
    `\\set uid ${hot ? "1" : `random(1, ${options.users})`}\n\\set r random(1, 1000000000000)\n${statement.replace(/\s*\n\s*/g, " ").trim()};\n`,
  );
  const base = ["-n", "-M", "prepared", "-f", script, "-c", String(connections), "-j", "2"];
  const conn = ["-h", options.host, "-p", options.port || "5432", "-U", options.user || "postgres", options.database];
  if (options.warmup > 0) execFileSync("pgbench", [...base, "-T", String(options.warmup), ...conn], { stdio: "pipe" });
  const output = execFileSync(
    "pgbench",
    [...base, "-T", String(options.duration), "-l", "--log-prefix", join(dir, "log"), ...conn],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(output)?.[1] ?? 0);
  const failed = Number(/number of failed transactions: (\d+)/.exec(output)?.[1] ?? 0);
  const latencies: number[] = [];
  for (const file of readdirSync(dir).filter((f) => f.startsWith("log"))) {
    for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
      const fields = line.split(" ");
      if (fields.length >= 3) latencies.push(Number(fields[2]) / 1000);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  const figures: Figures = {
    scenario,
    target: "pgbench",
    connections,
    rps: tps,
    p50: at(0.5),
    p99: at(0.99),
    errors: failed,
    non2xx: 0,
    requests: latencies.length,
  };
  return figures;
}
