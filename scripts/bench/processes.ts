import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

// The servers the benchmark measures, each its own process, killed when the benchmark exits.
const root = new URL("../../", import.meta.url).pathname;
const children: ChildProcess[] = [];
process.on("exit", () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
});

// The API server runs with the V8 heap flags of `pnpm start` (ADR 007), read from package.json.
const startScript = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: { start: string } })
  .scripts.start;
export const PRODUCTION_FLAGS = startScript.match(/--max-[a-z-]+=\d+/g) ?? [];

// `ready` finds the child's URL in its output: the bench entries print READY <url>, the server's
// own main logs the address it listens on.
export async function startChild(
  script: string,
  env: Record<string, string>,
  ready = /READY (\S+)/,
): Promise<{ child: ChildProcess; url: string }> {
  // BENCH_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=bench/results/raw") go to the API server.
  const flags = /server-entry|main\.ts/.test(script)
    ? [...PRODUCTION_FLAGS, ...(process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean)]
    : [];
  const child = spawn(process.execPath, [...flags, join(root, script)], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const match = ready.exec(buffered);
      if (match?.[1]) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { child, url };
}

export async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

export function statusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

// The CPU time (user + system) the process has used so far, in microseconds, from /proc/<pid>/stat
// (clock ticks of 10 ms on Linux). Per request it is the load-independent figure: on a machine
// shared with other work, throughput follows the neighbours, the server's own CPU per call much less.
const TICK_MICROS = 10_000;
export function cpuMicros(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * TICK_MICROS;
  } catch {
    return 0;
  }
}
