import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

// The embedded database (PGlite) belongs to one process: a second process opening the same data
// directory works on its own copy in memory and writes it back over the first one's, so whatever
// one of them wrote is lost. A lock file in the directory makes the second one refuse instead.
const LOCK_FILE = "credits.lock";

export class DataDirInUseError extends Error {
  constructor(dataDir: string, pid: number) {
    super(
      `the embedded database in ${dataDir} is in use by another process (pid ${pid}, e.g. pnpm dev): ` +
        "it belongs to one process at a time. Stop that process first, or run both on PostgreSQL " +
        "(DATABASE_URL)",
    );
    this.name = "DataDirInUseError";
  }
}

// Takes the directory's lock for this process; returns the function that gives it back. A lock
// left by a process that no longer runs (killed, crashed) is taken over.
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => releaseIfOurs(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number(readFileSync(path, "utf8"));
      if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && isRunning(holder)) {
        throw new DataDirInUseError(dataDir, holder);
      }
      unlinkSync(path);
    }
  }
  throw new Error(`could not take the lock ${path}`);
}

function releaseIfOurs(path: string): void {
  try {
    if (Number(readFileSync(path, "utf8")) === process.pid) unlinkSync(path);
  } catch {
    // Already gone: nothing to give back.
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
