// The house rule "files under 400 lines", checked: every TypeScript file git knows of (committed,
// or new and not ignored) outside drizzle/ and generated files. Functions under ~80 lines are
// biome's noExcessiveLinesPerFunction (biome.json) on production code; the planted function below
// shows `pnpm lint` refusing one. Tests are left to review: a describe() block is a function that
// holds a file's tests, and a scenario reads best in one piece.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const MAX_LINES = 400;

function oversizedFiles(): string[] {
  const listed = execFileSync(
    "git",
    ["ls-files", "--cached", "--others", "--exclude-standard", "--", "*.ts", "*.tsx", "*.mts", "*.cts"],
    { cwd: root, encoding: "utf8" },
  );
  return listed
    .split("\n")
    .filter((path) => path !== "" && !path.startsWith("drizzle/"))
    .flatMap((path) => {
      let text: string;
      try {
        text = readFileSync(join(root, path), "utf8");
      } catch {
        return []; // deleted in the working tree, not yet in the index
      }
      if (/@generated|auto-generated/i.test(text.split("\n", 5).join("\n"))) return [];
      const lines = text.endsWith("\n") ? text.split("\n").length - 1 : text.split("\n").length;
      return lines > MAX_LINES ? [`${path}: ${lines} lines`] : [];
    });
}

const planted = join(root, "scripts", "test", `zz-house-size-planted-${process.pid}.ts`);
afterEach(() => rmSync(planted, { force: true }));

it(`no TypeScript file is over ${MAX_LINES} lines`, () => {
  expect(oversizedFiles()).toEqual([]);
});

it("names a file one line over the limit, and not one at the limit", () => {
  writeFileSync(planted, "export {};\n".repeat(MAX_LINES));
  expect(oversizedFiles().some((entry) => entry.startsWith("scripts/test/zz-house-size-planted"))).toBe(false);
  writeFileSync(planted, "export {};\n".repeat(MAX_LINES + 1));
  expect(oversizedFiles()).toContain(`${planted.slice(root.length)}: ${MAX_LINES + 1} lines`);
});

it("biome refuses a production function over 80 lines (blank lines not counted), and not one at 80", () => {
  const plantedSource = join(root, "packages", "core", "src", `zz-function-planted-${process.pid}.ts`);
  const body = (lines: number) =>
    `export function planted(): number {\n  let total = 0;\n${"  total += 1;\n\n".repeat(lines - 2)}  return total;\n}\n`;
  const lint = () => {
    try {
      execFileSync("pnpm", ["exec", "biome", "lint", plantedSource], { cwd: root, encoding: "utf8", stdio: "pipe" });
      return "";
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      return `${stdout ?? ""}${stderr ?? ""}`;
    }
  };
  try {
    writeFileSync(plantedSource, body(80));
    expect(lint()).not.toContain("noExcessiveLinesPerFunction");
    writeFileSync(plantedSource, body(81));
    expect(lint()).toContain("noExcessiveLinesPerFunction");
  } finally {
    rmSync(plantedSource, { force: true });
  }
});
