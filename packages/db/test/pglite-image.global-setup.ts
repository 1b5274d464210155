import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGLITE_IMAGE_ENV, writePgliteImage } from "../src/testing.ts";

// Once per test run on PGlite: one migrated data directory, which every test file's database loads
// instead of running initdb and the migrations itself (see PGLITE_IMAGE_ENV). The test workers are
// started after this and inherit the variable.
export default async function setup(): Promise<(() => void) | undefined> {
  if (process.env.TEST_DATABASE_URL || process.env.DATABASE_URL) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "credits-pglite-image-"));
  const path = join(dir, "migrated.tar");
  await writePgliteImage(path);
  process.env[PGLITE_IMAGE_ENV] = path;
  return () => rmSync(dir, { recursive: true, force: true });
}
