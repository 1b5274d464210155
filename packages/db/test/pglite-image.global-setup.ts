import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGLITE_EMPTY_IMAGE_ENV, PGLITE_IMAGE_ENV, writePgliteImage } from "../src/testing.ts";
import { PGLITE_DATA_DIR_ENV } from "../src/testing-data-dir.ts";

// Once per test run on PGlite: one migrated data directory, which the test databases load instead
// of running initdb and the migrations (see PGLITE_IMAGE_ENV; in the unit project once per worker,
// then reset to it for each file: testing-shared-pglite.ts), and the same written out on disk for
// the tests that start a process on a data directory (see PGLITE_DATA_DIR_ENV).
// The test workers are started after this and inherit the variables. Both unit projects list this
// setup and vitest runs both in its one main process: the second keeps the first's image.
export default async function setup(): Promise<(() => void) | undefined> {
  if (process.env.TEST_DATABASE_URL || process.env.DATABASE_URL) return undefined;
  if (process.env[PGLITE_IMAGE_ENV]) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "credits-pglite-image-"));
  const path = join(dir, "migrated.tar");
  const empty = join(dir, "empty.tar");
  await writePgliteImage(path, join(dir, "data"), empty);
  process.env[PGLITE_IMAGE_ENV] = path;
  process.env[PGLITE_EMPTY_IMAGE_ENV] = empty;
  process.env[PGLITE_DATA_DIR_ENV] = join(dir, "data");
  return () => rmSync(dir, { recursive: true, force: true });
}
