// `pnpm bench --only` with a name that matches no scenario (a typo, the wrong connection count)
// ran none, wrote bench/results/only.* with every target "MISSED … –" and exited 0: it must refuse
// the name before it creates a database. The admin URL points at a closed port, so that reaching
// PostgreSQL at all fails the test with a different error. NODE_ENV as `pnpm bench` sets it.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url).pathname;
const bench = (only: string) =>
  spawnSync(process.execPath, ["scripts/bench/run.ts", "--quick", "--only", only], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, NODE_ENV: "development", BENCH_ADMIN_URL: "postgres://nobody@127.0.0.1:1/none" },
    timeout: 60_000,
  });

describe("pnpm bench --only", () => {
  it.each(["nonsense@1", "spend@8", "me/credits@64,read credit@64", ""])("refuses %j before any work", (only) => {
    const run = bench(only);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/--only: no such scenario/);
    expect(run.stdout).not.toMatch(/database .* created/);
  });

  it("names every scenario it knows in the refusal", () => {
    const { stderr } = bench("nonsense@1");
    for (const name of ["spend@4", "spend hot user@64", "users/{id}/credits@64", "read balance@64", "webhook@16"]) {
      expect(stderr).toContain(name);
    }
  });
});
