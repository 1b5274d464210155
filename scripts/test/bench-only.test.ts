// `pnpm bench --only` with a name that matches no scenario (a typo, the wrong connection count)
// ran none, wrote bench/results/only.* with every target "MISSED … –" and exited 0: it must refuse
// the name before it creates a database. The names are judged here in this process (the parser and
// the list of scenarios); one run of the real command proves that it refuses before any work. Its
// admin URL points at a closed port, so that reaching PostgreSQL at all fails the test with a
// different error. NODE_ENV as `pnpm bench` sets it.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { checkOnly, parseOnly } from "../bench/args.ts";
import { scenarioNames, WEBHOOK_CONNECTIONS_DEFAULT } from "../bench/scenarios.ts";

const root = new URL("../../", import.meta.url).pathname;
// As run.ts asks without --webhook-connections.
const known = scenarioNames(WEBHOOK_CONNECTIONS_DEFAULT);
const check =
  (...argv: string[]) =>
  () =>
    checkOnly(known, parseOnly(argv));

describe("pnpm bench --only", () => {
  it.each(["nonsense@1", "spend@8", "me/credits@64,read credit@64", ""])("refuses %j", (only) => {
    expect(check("--quick", "--only", only)).toThrow(/--only: no such scenario/);
    expect(check("--quick", `--only=${only}`)).toThrow(/--only: no such scenario/);
  });

  it("takes the names of scenarios it knows, and no --only at all", () => {
    expect(check("--quick", "--only", "spend@4, users/{id}/credits@64,webhook@16,pgbench@0")).not.toThrow();
    expect(check("--quick")).not.toThrow();
    expect(parseOnly(["--quick"])).toBeNull();
  });

  // A comma in a scenario's name split it into two unknown names: no such scenario could be run alone.
  it("can name every scenario it knows, all of them at once", () => {
    for (const name of known) expect(parseOnly(["--only", name])).toEqual(new Set([name]));
    expect(check("--only", known.join(","))).not.toThrow();
  });

  it("the command refuses before any work, naming every scenario it knows", () => {
    const run = spawnSync(process.execPath, ["scripts/bench/run.ts", "--quick", "--only", "nonsense@1"], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, NODE_ENV: "development", BENCH_ADMIN_URL: "postgres://nobody@127.0.0.1:1/none" },
      timeout: 60_000,
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/--only: no such scenario "nonsense@1"/);
    expect(run.stdout).not.toMatch(/database .* created/);
    for (const name of ["spend@4", "spend hot user@64", "users/{id}/credits@64", "read balance@64", "webhook@16"]) {
      expect(run.stderr).toContain(name);
    }
  });
});
