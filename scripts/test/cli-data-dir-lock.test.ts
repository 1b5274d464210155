// The embedded database belongs to one process: the CLI beside a running server on the same data
// directory refuses, naming the holder, and nothing either of them wrote is lost.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createDatabase, DataDirInUseError } from "@credits/db";
import { users } from "@credits/db/schema";
import { seedPgliteDataDir } from "@credits/db/testing/data-dir";
import { afterAll, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), "credits-lock-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const cli = (args: string[], input: string) =>
  new Promise<{ code: number; stderr: string }>((resolve) => {
    const child = execFile(
      process.execPath,
      ["scripts/src/cli.ts", ...args],
      { cwd: root, env: { PATH: process.env.PATH, NODE_ENV: "test", DATA_DIR: dataDir }, timeout: 60_000 },
      (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
    );
    child.stdin?.end(input);
  });

it("the CLI beside a process holding the data directory refuses, and loses nothing", async () => {
  // Migrated already (the run's image, when there is one): migrate() applies nothing then.
  seedPgliteDataDir(dataDir);
  const server = createDatabase({ dataDir });
  await server.migrate();
  await server.db.insert(users).values({ email: "before@example.test" });
  const refused = await cli(
    ["users:create", "--email", "admin@example.test", "--role", "admin", "--password-stdin"],
    "a long password\n",
  );
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(`is in use by another process (pid ${process.pid}`);
  await server.db.insert(users).values({ email: "after@example.test" });
  await server.close();

  // The holder gone, the CLI runs, and everything both wrote is there.
  const created = await cli(
    ["users:create", "--email", "admin@example.test", "--role", "admin", "--password-stdin"],
    "a long password\n",
  );
  expect(created.code, created.stderr).toBe(0);
  const reopened = createDatabase({ dataDir });
  try {
    const emails = (await reopened.db.select({ email: users.email }).from(users)).map((u) => u.email).sort();
    expect(emails).toEqual(["admin@example.test", "after@example.test", "before@example.test"]);
  } finally {
    await reopened.close();
  }
});

it("a lock left by a process that no longer runs is taken over; a live one is refused", async () => {
  const gone = spawn(process.execPath, ["-e", ""]);
  const pid = gone.pid as number;
  await new Promise((resolve) => gone.on("exit", resolve));
  writeFileSync(join(dataDir, "credits.lock"), String(pid));
  const handle = createDatabase({ dataDir });
  try {
    await handle.ping();
    const live = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"]);
    try {
      // Another live process's lock: this process (whose own lock it is not) is refused.
      writeFileSync(join(dataDir, "credits.lock"), String(live.pid));
      expect(() => createDatabase({ dataDir })).toThrow(DataDirInUseError);
    } finally {
      live.kill();
      writeFileSync(join(dataDir, "credits.lock"), String(process.pid));
    }
  } finally {
    await handle.close();
  }
});
