// Test kit: a real streaming replica of a local PostgreSQL server, made with pg_basebackup into a
// temporary directory and started with the server's own binaries on a free port. For the replica
// test (DATABASE_READ_URL).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import postgres, { type Sql } from "postgres";
import { freePort } from "./testing-pgbouncer.ts";

const run = promisify(execFile);

export interface RunningReplica {
  // postgres://user@127.0.0.1:<port>: append a database name.
  url: string;
  // Stops and restarts applying the primary's WAL (what is received waits): reads on the
  // replica then show the data as it was.
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  // Resolves once the replica has applied everything the primary had written when called.
  caughtUp(): Promise<void>;
  stop(): Promise<void>;
}

function binaries(): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  const found = versions.map((version) => join(root, version, "bin")).find((bin) => existsSync(join(bin, "postgres")));
  return found ?? null;
}

// Why a replica cannot be made of the server at `serverUrl`, or null when it can.
export async function replicaUnavailable(serverUrl: string): Promise<string | null> {
  if (!binaries()) return "no PostgreSQL binaries under /usr/lib/postgresql/*/bin";
  const sql = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    const [level] = await sql<{ wal_level: string }[]>`SHOW wal_level`;
    if (level?.wal_level === "minimal") return "the server runs with wal_level=minimal (needs replica)";
    const [rule] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM pg_hba_file_rules
       WHERE 'replication' = ANY(database) AND (address IS NULL OR address = '127.0.0.1' OR type = 'local')`;
    if (!rule?.n)
      return "pg_hba.conf allows no replication connection (add: host replication postgres 127.0.0.1/32 trust)";
    return null;
  } finally {
    await sql.end({ timeout: 2 });
  }
}

// `serverUrl`: postgres://user@127.0.0.1:port of the primary (trust authentication).
export async function startReplica(serverUrl: string): Promise<RunningReplica> {
  const bin = binaries();
  if (!bin) throw new Error("no PostgreSQL binaries under /usr/lib/postgresql/*/bin");
  const primary = new URL(serverUrl);
  const user = decodeURIComponent(primary.username || "postgres");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "replica-"));
  const data = join(dir, "data");
  // PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres account.
  const account = process.getuid?.() === 0 ? await postgresAccount() : null;
  if (account) chownSync(dir, account.uid, account.gid);
  let server: ChildProcess | null = null;
  try {
    await run(
      join(bin, "pg_basebackup"),
      [
        "-h",
        primary.hostname,
        "-p",
        primary.port || "5432",
        "-U",
        user,
        "-D",
        data,
        "-R",
        "-X",
        "stream",
        "-c",
        "fast",
      ],
      { ...(account ?? {}), timeout: 120_000 },
    );
    // Debian keeps the configuration outside the data directory: the replica gets its own, with
    // the limits a standby must not set below the primary's copied from it.
    const settings = [
      ...(await primaryLimits(serverUrl)),
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      "hot_standby = on",
      "shared_buffers = 16MB",
      "fsync = off",
    ];
    writeFileSync(join(data, "postgresql.conf"), `${settings.join("\n")}\n`);
    writeFileSync(join(data, "pg_hba.conf"), "local all all trust\nhost all all 127.0.0.1/32 trust\n");
    writeFileSync(join(data, "pg_ident.conf"), "");
    if (account) {
      for (const file of ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"]) {
        chownSync(join(data, file), account.uid, account.gid);
      }
    }
    server = spawn(join(bin, "postgres"), ["-D", data], { ...(account ?? {}), stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    server.stderr?.on("data", (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-8_000);
    });
    const url = `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}`;
    const replica = postgres(`${url}/postgres`, { max: 1, onnotice: () => {}, connect_timeout: 2 });
    const source = postgres(`${serverUrl}/postgres`, { max: 1, onnotice: () => {} });
    await streaming(replica, server, () => log);
    return handle({ url, replica, source, server, dir });
  } catch (error) {
    server?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function handle(parts: { url: string; replica: Sql; source: Sql; server: ChildProcess; dir: string }): RunningReplica {
  const { replica, source, server, dir } = parts;
  return {
    url: parts.url,
    pauseReplay: async () => {
      await replica`SELECT pg_wal_replay_pause()`;
    },
    resumeReplay: async () => {
      await replica`SELECT pg_wal_replay_resume()`;
    },
    async caughtUp() {
      const [written] = await source<{ lsn: string }[]>`SELECT pg_current_wal_lsn()::text AS lsn`;
      for (let attempt = 0; attempt < 300; attempt++) {
        const [behind] = await replica<{ behind: boolean }[]>`
          SELECT coalesce(pg_last_wal_replay_lsn() < ${written?.lsn ?? "0/0"}::pg_lsn, true) AS behind`;
        if (!behind?.behind) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error("the replica did not catch up in 15 s");
    },
    async stop() {
      await Promise.all([replica.end({ timeout: 2 }), source.end({ timeout: 2 })]);
      if (server.exitCode === null && server.signalCode === null) {
        const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
        // Fast shutdown: its clients are disconnected, nothing is kept.
        server.kill("SIGINT");
        const forced = setTimeout(() => server.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(forced);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Until the replica answers and its WAL receiver streams from the primary.
async function streaming(replica: Sql, server: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`the replica exited (${server.exitCode}): ${log()}`);
    const status = await replica<{ status: string }[]>`SELECT status FROM pg_stat_wal_receiver`.catch(() => []);
    if (status[0]?.status === "streaming") return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the replica did not start streaming: ${log()}`);
}

async function primaryLimits(serverUrl: string): Promise<string[]> {
  const sql = postgres(`${serverUrl}/postgres`, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ name: string; setting: string }[]>`
      SELECT name, setting FROM pg_settings
       WHERE name IN ('max_connections', 'max_worker_processes', 'max_wal_senders',
                      'max_prepared_transactions', 'max_locks_per_transaction')`;
    return rows.map((row) => `${row.name} = ${row.setting}`);
  } finally {
    await sql.end({ timeout: 2 });
  }
}

async function postgresAccount(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}
