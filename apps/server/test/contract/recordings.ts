import { join } from "node:path";

// Where the test processes of a run write the answers their servers gave (one file per process),
// for the contract test at the end of the run (vitest.config.ts: the contract project runs last).
export const RECORDINGS_DIR = join(import.meta.dirname, "../../../../test-results/contract");
