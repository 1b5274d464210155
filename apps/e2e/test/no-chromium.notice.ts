import { it } from "vitest";
import { INSTALL_HINT } from "./chromium.ts";

// Run instead of the browser tests on a machine without Chromium (never under CI=true).
it.skip(`browser tests skipped: no Chromium found; ${INSTALL_HINT}`, () => {});
