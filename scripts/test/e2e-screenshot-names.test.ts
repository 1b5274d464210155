// The browser files run two at a time (apps/e2e/vitest.config.ts), each in its own process, and
// every screenshot goes to test-results/screenshots/<name>.png (docs screenshots to docs/screenshots
// too): two files that use the same name write one file, at the same time now, and the run keeps
// whichever finished last (or a torn image). So a name belongs to one file.
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const dir = fileURLToPath(new URL("../../apps/e2e/test/", import.meta.url));

it("no two browser test files save a screenshot under the same name", () => {
  const owners = new Map<string, Set<string>>();
  for (const file of readdirSync(dir).filter((name) => name.endsWith(".e2e.test.ts"))) {
    const text = readFileSync(`${dir}${file}`, "utf8");
    for (const match of text.matchAll(/[sS]creenshot\([\w.]+,\s*"([^"]+)"/g)) {
      const name = match[1] ?? "";
      owners.set(name, (owners.get(name) ?? new Set()).add(file));
    }
  }
  expect(owners.size).toBeGreaterThan(10);
  const shared = [...owners].filter(([, files]) => files.size > 1).map(([name, files]) => `${name}: ${[...files]}`);
  expect(shared).toEqual([]);
});
