// The house rule "files under 400 lines", checked: every TypeScript file git knows of (committed,
// or new and not ignored) outside drizzle/ and generated files. Functions under ~80 lines stay a
// review rule: biome has no function-length rule.
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
