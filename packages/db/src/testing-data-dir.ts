// Test kit for tests that start a real process on an empty PGlite data directory. Apart from
// testing.ts so that it loads neither PGlite nor a driver: those tests' own processes do.
import { cpSync } from "node:fs";

// The path of a migrated PGlite data directory on disk, written once per test run on PGlite by the
// suite's global setup (from the same image the test files' in-memory databases load).
export const PGLITE_DATA_DIR_ENV = "CREDITS_TEST_PGLITE_DATA_DIR";

// Copies the run's migrated data directory into `dataDir` (empty), so the process started on it
// finds its database migrated: initdb and the migrations cost a process several CPU seconds, the
// copy a fraction of one. Without one (a run on PostgreSQL) the process migrates it itself.
export function seedPgliteDataDir(dataDir: string): void {
  const template = process.env[PGLITE_DATA_DIR_ENV];
  if (template) cpSync(template, dataDir, { recursive: true });
}
