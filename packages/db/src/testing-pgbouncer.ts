// Test kit: a real PgBouncer in transaction mode in front of a PostgreSQL server, on its own port,
// with its configuration in a temporary directory. For the pooler test and the fault harness.
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";

// Debian's package puts it here.
export const PGBOUNCER_BINARY = "/usr/sbin/pgbouncer";

export interface RunningPgBouncer {
  // postgres://user@127.0.0.1:<port>: append a database name.
  url: string;
  port: number;
  // The log so far: what PgBouncer refused, if something fails.
  log(): string;
  // From its console (SHOW STATS, SHOW POOLS): the transactions it has passed to `database`'s
  // server connections, and the pool's mode.
  stats(database: string): Promise<{ transactions: number; poolMode: string | null }>;
  stop(): Promise<void>;
}

export function pgbouncerInstalled(): boolean {
  return existsSync(PGBOUNCER_BINARY);
}

// `serverUrl`: the PostgreSQL server behind it (postgres://user@host:port, trust authentication).
export async function startPgBouncer(
  serverUrl: string,
  options: { poolSize?: number } = {},
): Promise<RunningPgBouncer> {
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username || "postgres");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "pgbouncer-"));
  // PgBouncer refuses to run as root; as root it is started as the postgres account, which must
  // read its configuration directory.
  chmodSync(dir, 0o755);
  const config = [
    "[databases]",
    `* = host=${server.hostname} port=${server.port || "5432"}`,
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    "unix_socket_dir =",
    "auth_type = trust",
    `auth_file = ${join(dir, "userlist.txt")}`,
    "pool_mode = transaction",
    "max_client_conn = 1000",
    `default_pool_size = ${options.poolSize ?? 20}`,
    // Its console (database "pgbouncer"): tests read SHOW STATS to see their traffic went through,
    // totals it adds up every stats_period (60 s by default).
    `admin_users = ${user}`,
    "stats_period = 1",
  ].join("\n");
  writeFileSync(join(dir, "pgbouncer.ini"), `${config}\n`);
  writeFileSync(join(dir, "userlist.txt"), `"${user}" ""\n`);
  const asRoot = process.getuid?.() === 0;
  const child = spawn(PGBOUNCER_BINARY, [...(asRoot ? ["-u", "postgres"] : []), join(dir, "pgbouncer.ini")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  try {
    await listening(port, child, () => output);
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}`,
    port,
    log: () => output,
    async stats(database) {
      // The console speaks the simple query protocol only, and has no types to fetch.
      const console = postgres(`postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/pgbouncer`, {
        max: 1,
        fetch_types: false,
        onnotice: () => {},
      });
      try {
        const stats = await console.unsafe("SHOW STATS").simple();
        const pools = await console.unsafe("SHOW POOLS").simple();
        return {
          transactions: Number(stats.find((row) => row.database === database)?.total_xact_count ?? 0),
          poolMode: pools.find((row) => row.database === database)?.pool_mode ?? null,
        };
      } finally {
        await console.end({ timeout: 2 });
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGINT");
        const forced = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(forced);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function listening(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited (${child.exitCode}): ${output()}`);
    if (await accepts(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`pgbouncer did not listen on ${port}: ${output()}`);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
