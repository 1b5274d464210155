// pnpm test:faults [--quick] [scenario names…]: fault-injection scenarios against real server
// processes on a real PostgreSQL. Each prints what it injected and what it found; the process
// exits non-zero when a check fails.
import { pgbouncerInstalled } from "@credits/db/testing/pgbouncer";
import { env } from "@credits/env";
import { Checks } from "./lib.ts";
import { severalInstances } from "./scenario-instances.ts";
import { killUnderLoad } from "./scenario-kill.ts";
import { postgresRestart } from "./scenario-pg-restart.ts";
import { stripeDown } from "./scenario-stripe.ts";
import { terminateBackend } from "./scenario-terminate.ts";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const only = args.filter((a) => !a.startsWith("--"));

const scenarios: [string, (quick: boolean) => Promise<Checks>][] = [
  ["instances", severalInstances],
  ["instances-pgbouncer", throughPgBouncer],
  ["kill", killUnderLoad],
  ["pg-restart", postgresRestart],
  ["stripe", stripeDown],
  ["terminate", terminateBackend],
];

// Needs Debian's pgbouncer: a missing one fails under CI and is skipped, said once, elsewhere.
async function throughPgBouncer(quick: boolean): Promise<Checks> {
  if (pgbouncerInstalled()) return severalInstances(quick, { pgbouncer: true });
  const checks = new Checks("several instances through PgBouncer");
  if (env.CI) checks.check(false, "pgbouncer installed", "no /usr/sbin/pgbouncer: apt-get install pgbouncer");
  else console.log("  skipped: no pgbouncer at /usr/sbin/pgbouncer (apt-get install pgbouncer)");
  return checks;
}

let passed = 0;
let failed = 0;
const started = Date.now();
for (const [name, run] of scenarios) {
  if (only.length && !only.includes(name)) continue;
  const t0 = Date.now();
  console.log(`\n== ${name}${quick ? " (quick)" : ""}`);
  try {
    const checks = await run(quick);
    if (checks.ok) passed++;
    else failed++;
    console.log(`  ${checks.ok ? "PASSED" : "FAILED"} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (error) {
    failed++;
    console.log(`  FAILED: ${error instanceof Error ? error.stack : String(error)}`);
  }
}
console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);
console.log(`faults: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
