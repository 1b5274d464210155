import { readFileSync } from "node:fs";
// The reads the scale bench times: each over real HTTP through the real server (or, for the
// reconciliation's ledger step, the service call the daily run makes), one at a time, so a
// figure is the read's own latency, not a queue's.

export interface ReadFigures {
  read: string;
  p50: number;
  p99: number;
  samples: number;
  // Bytes of the last answer (the export's size matters for its memory).
  bytes: number;
  // For a read given a server pid: the most the server's resident memory rose above its level
  // before the call, over all samples (the export: flat when streamed, the history's size when built).
  rssGrowthBytes?: number;
  // Blocks (8 kB) PostgreSQL read from outside its shared buffers per call, over every backend of
  // the bench's database (the server's background work included): a read that does the same work
  // at both sizes but on pages no longer in memory shows it here.
  blocksRead?: number;
  // Pages PostgreSQL touched per call (read from outside shared buffers or found in them), over
  // the same backends: the database's work for the read, whatever the machine's load.
  pagesTouched?: number;
}

export interface Read {
  read: string;
  // Whether the ≤ 50 ms p99 target applies: a whole-history export is bounded by its own size.
  userFacing: boolean;
  run: () => Promise<number>;
  // Why the read grows with the ledger when it does so by design (printed with a growth miss).
  growsBecause?: string;
  // The server process whose memory to watch during the read (Linux /proc).
  serverPid?: number;
}

const rssOf = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
};

// Runs the read while sampling the server's resident memory every 5 ms; resolves to the rise.
async function withRss(pid: number, run: () => Promise<number>): Promise<{ bytes: number; rise: number }> {
  const before = rssOf(pid);
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssOf(pid));
  }, 5);
  try {
    const bytes = await run();
    peak = Math.max(peak, rssOf(pid));
    return { bytes, rise: peak - before };
  } finally {
    clearInterval(timer);
  }
}

export async function timeRead(read: Read, samples: number, warmup: number): Promise<ReadFigures> {
  for (let i = 0; i < warmup; i += 1) await read.run();
  const times: number[] = [];
  let bytes = 0;
  let rssGrowthBytes: number | undefined;
  for (let i = 0; i < samples; i += 1) {
    const started = performance.now();
    if (read.serverPid === undefined) bytes = await read.run();
    else {
      const measured = await withRss(read.serverPid, read.run);
      bytes = measured.bytes;
      rssGrowthBytes = Math.max(rssGrowthBytes ?? 0, measured.rise);
    }
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)] ?? 0;
  return {
    read: read.read,
    p50: at(0.5),
    p99: at(0.99),
    samples,
    bytes,
    ...(rssGrowthBytes === undefined ? {} : { rssGrowthBytes }),
  };
}

// A GET that must answer 200; resolves to the body's size once all of it has arrived.
export function httpRead(base: string, path: string, headers: Record<string, string>) {
  return async (): Promise<number> => {
    const response = await fetch(new URL(path, base), { headers });
    const body = await response.arrayBuffer();
    if (response.status !== 200) {
      throw new Error(`GET ${path}: ${response.status} ${new TextDecoder().decode(body).slice(0, 200)}`);
    }
    return body.byteLength;
  };
}

const isoDay = (d: Date) => d.toISOString().slice(0, 10);

export function httpReads(
  base: string,
  cookies: { user: string; admin: string },
  options: { web: boolean; searchFor: string; serverPid?: number },
): Read[] {
  const user = { cookie: cookies.user };
  const admin = { cookie: cookies.admin };
  const today = new Date();
  const monthAgo = new Date(today.getTime() - 29 * 86_400_000);
  const weekAgo = new Date(today.getTime() - 7 * 86_400_000).toISOString();
  const reads: Read[] = [
    { read: "me/credits (heavy user)", userFacing: true, run: httpRead(base, "/api/v1/me/credits", user) },
    {
      read: "history, kind + date filter",
      userFacing: true,
      run: httpRead(base, `/api/v1/me/credits?kind=spend&from=${encodeURIComponent(weekAgo)}&limit=50`, user),
    },
    {
      read: "admin stats/daily (30 d)",
      userFacing: true,
      run: httpRead(base, `/api/v1/admin/stats/daily?from=${isoDay(monthAgo)}&to=${isoDay(today)}`, admin),
    },
    { read: "admin audit log", userFacing: true, run: httpRead(base, "/api/v1/admin/audit", admin) },
    { read: "admin approvals queue", userFacing: true, run: httpRead(base, "/api/v1/admin/adjustments", admin) },
    {
      read: "admin user search",
      userFacing: true,
      run: httpRead(base, `/api/v1/admin/users?query=${encodeURIComponent(options.searchFor)}`, admin),
    },
    {
      read: "GDPR export (heavy user)",
      userFacing: false,
      run: httpRead(base, "/api/v1/gdpr/export", user),
      serverPid: options.serverPid,
    },
  ];
  if (options.web)
    reads.splice(3, 0, { read: "/admin dashboard", userFacing: true, run: httpRead(base, "/admin", admin) });
  return reads;
}
