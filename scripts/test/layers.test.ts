// The layers are a rule `pnpm lint` checks: dependency-cruiser with the project's config fails
// on a forbidden import planted in a package, and passes on the same file without it.
import { execFile } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
// dependency-cruiser resolves our package names through the repository's node_modules, so these
// plants go into the repository; .gitignore keeps one left by a run cut short out of any commit.
const tag = `zz-layers-planted-${process.pid}`;

// Each plant: a file in a package, a forbidden import, an allowed one, and the rule that names it.
// (None under apps/web/app: the browser tests' build and Vite watch that folder.)
const plants = [
  {
    file: `packages/core/src/${tag}.ts`,
    forbidden: "@credits/observability",
    allowed: "./index.ts",
    rule: "core-is-pure",
  },
  { file: `packages/api/src/${tag}.ts`, forbidden: "@credits/db", allowed: "@credits/core", rule: "api-imports-core" },
  {
    file: `packages/stripe/src/${tag}.ts`,
    forbidden: "@credits/env",
    allowed: "@credits/core",
    rule: "adapters-get-settings-as-arguments",
  },
  { file: `apps/web/server/${tag}.ts`, forbidden: "@credits/db", allowed: "@credits/api", rule: "web-imports-api" },
  {
    file: `apps/server/src/${tag}.ts`,
    forbidden: "../../web/server/web-app.ts",
    allowed: "@credits/web/server",
    rule: "no-relative-import-across-packages",
  },
  {
    file: `scripts/src/${tag}.ts`,
    forbidden: "../../apps/server/src/services.ts",
    allowed: "@credits/server/services",
    rule: "no-relative-import-out-of-scripts",
  },
];

function depcruise(files: string[]) {
  return new Promise<{ code: number; output: string }>((resolve) => {
    execFile(
      join(root, "node_modules/.bin/depcruise"),
      ["--config", ".dependency-cruiser.cjs", "--output-type", "err", ...files],
      { cwd: root },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, output: stdout + stderr }),
    );
  });
}

function plant(pick: "forbidden" | "allowed") {
  for (const p of plants) {
    mkdirSync(dirname(join(root, p.file)), { recursive: true });
    writeFileSync(join(root, p.file), `import "${p[pick]}";\n`);
  }
}

it("fails on each forbidden import, naming its rule, and passes without them", async () => {
  const files = plants.map((p) => p.file);
  try {
    plant("forbidden");
    const planted = await depcruise(files);
    expect(planted.code, planted.output).not.toBe(0);
    for (const p of plants) expect(planted.output).toMatch(new RegExp(`${p.rule}: ${p.file.replaceAll(".", "\\.")}`));

    plant("allowed");
    const clean = await depcruise(files);
    expect(clean.output).not.toMatch(/error/);
    expect(clean.code, clean.output).toBe(0);
  } finally {
    for (const file of files) rmSync(join(root, file), { force: true });
  }
}, 120_000);
