// The house rule "files under 400 lines", checked: every TypeScript file git knows of (committed,
// or new and not ignored) outside drizzle/ and generated files. Functions under ~80 lines are
// biome's noExcessiveLinesPerFunction (biome.json) on production code; the planted function below
// shows `pnpm lint` refusing one. Tests are left to review: a describe() block is a function that
// holds a file's tests, and a scenario reads best in one piece.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const MAX_LINES = 400;

// The planted files go to a scratch folder, never into the repository: a run cut off before its
// cleanup used to leave them behind to be committed.
const scratch = mkdtempSync(join(tmpdir(), "credits-house-size-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function plant(path: string, text: string): void {
  mkdirSync(dirname(join(scratch, path)), { recursive: true });
  writeFileSync(join(scratch, path), text);
}

function oversizedFiles(repository: string): string[] {
  const listed = execFileSync(
    "git",
    ["ls-files", "--cached", "--others", "--exclude-standard", "--", "*.ts", "*.tsx", "*.mts", "*.cts"],
    { cwd: repository, encoding: "utf8" },
  );
  return listed
    .split("\n")
    .filter((path) => path !== "" && !path.startsWith("drizzle/"))
    .flatMap((path) => {
      let text: string;
      try {
        text = readFileSync(join(repository, path), "utf8");
      } catch {
        return []; // deleted in the working tree, not yet in the index
      }
      if (/@generated|auto-generated/i.test(text.split("\n", 5).join("\n"))) return [];
      const lines = text.endsWith("\n") ? text.split("\n").length - 1 : text.split("\n").length;
      return lines > MAX_LINES ? [`${path}: ${lines} lines`] : [];
    });
}

it(`no TypeScript file is over ${MAX_LINES} lines`, () => {
  expect(oversizedFiles(root)).toEqual([]);
});

it("names a new file one line over the limit, and not one at the limit", () => {
  const repository = join(scratch, "repository");
  mkdirSync(repository);
  execFileSync("git", ["init", "--quiet"], { cwd: repository });
  writeFileSync(join(repository, "at-limit.ts"), "export {};\n".repeat(MAX_LINES));
  writeFileSync(join(repository, "over.ts"), "export {};\n".repeat(MAX_LINES + 1));
  expect(oversizedFiles(repository)).toEqual([`over.ts: ${MAX_LINES + 1} lines`]);
});

it("biome refuses a production function over 80 lines (blank lines not counted), and not one at 80", () => {
  // The project's biome.json (its overrides name the production folders) beside the planted file.
  const config = JSON.parse(readFileSync(join(root, "biome.json"), "utf8"));
  delete config.$schema;
  plant("biome.json", JSON.stringify({ ...config, vcs: { enabled: false } }));
  const source = "packages/core/src/planted.ts";
  const body = (lines: number) =>
    `export function planted(): number {\n  let total = 0;\n${"  total += 1;\n\n".repeat(lines - 2)}  return total;\n}\n`;
  const lint = () => {
    try {
      execFileSync(join(root, "node_modules/.bin/biome"), ["lint", source], {
        cwd: scratch,
        encoding: "utf8",
        stdio: "pipe",
      });
      return "";
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      return `${stdout ?? ""}${stderr ?? ""}`;
    }
  };
  plant(source, body(80));
  expect(lint()).not.toContain("noExcessiveLinesPerFunction");
  plant(source, body(81));
  expect(lint()).toContain("noExcessiveLinesPerFunction");
});
