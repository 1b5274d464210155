// The browser tests run in the e2e project, which looks in apps/e2e/test only (they live in their
// own package: they start the server, which serves the web app). The unit project skips every
// *.e2e.test.ts, so one written anywhere else would run nowhere: this says so instead.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));

it("every browser test is in apps/e2e/test, where the e2e project runs it", () => {
  const listed = execFileSync(
    "git",
    ["ls-files", "--cached", "--others", "--exclude-standard", "--", "*.e2e.test.ts"],
    {
      cwd: root,
      encoding: "utf8",
    },
  );
  const files = listed.split("\n").filter((path) => path !== "");
  expect(files.length).toBeGreaterThan(0);
  expect(files.filter((path) => !path.startsWith("apps/e2e/test/"))).toEqual([]);
});
