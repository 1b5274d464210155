// The embedded database beside a running server: the real server process on a temporary data
// directory, a user signed up over HTTP, the CLI on the same directory refused with the server's
// pid, then the server stopped and started again: the user is still there. Nothing is lost.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { seedPgliteDataDir } from "@credits/db/testing/data-dir";
import { afterAll, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), "credits-embedded-"));
// Migrated already (the run's image, when there is one): the first start does not migrate it.
seedPgliteDataDir(dataDir);
const env = {
  PATH: process.env.PATH ?? "",
  NODE_ENV: "test" as const,
  DATA_DIR: dataDir,
  HOST: "127.0.0.1",
  PORT: "0",
};
const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) child.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

// The real startServer in its own process (the fault harness's entry: no web app), on dataDir.
function startServerProcess(): Promise<{ url: string; stop: () => Promise<number | null>; pid: number }> {
  const child = spawn(process.execPath, ["scripts/faults/server-entry.ts"], { cwd: root, env });
  running.add(child);
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const stop = () =>
    new Promise<number | null>((resolve) => {
      child.once("exit", (code) => {
        running.delete(child);
        resolve(code);
      });
      child.kill("SIGTERM");
    });
  return new Promise((resolve, reject) => {
    let stdout = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      const url = /READY (\S+)/.exec(stdout)?.[1];
      if (url) resolve({ url, stop, pid: child.pid as number });
    });
    child.once("exit", (code) => reject(new Error(`the server exited (${code}) before it was ready: ${stderr}`)));
  });
}

const cli = (args: string[], input: string) =>
  new Promise<{ code: number; stderr: string }>((resolve) => {
    const child = execFile(
      process.execPath,
      ["scripts/src/cli.ts", ...args],
      { cwd: root, env, timeout: 60_000 },
      (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
    );
    child.stdin?.end(input);
  });

it("the CLI beside the running server refuses with its pid; after a restart the server's user is there", async () => {
  const first = await startServerProcess();
  const email = "signed-up@example.test";
  const signUp = await fetch(`${first.url}/api/v1/auth/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: "a long password" }),
  });
  expect(signUp.status).toBe(201);
  const { user } = (await signUp.json()) as { user: { id: string } };

  const refused = await cli(
    ["users:create", "--email", "admin@example.test", "--role", "admin", "--password-stdin"],
    "a long password\n",
  );
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(`is in use by another process (pid ${first.pid}`);
  expect(await first.stop()).toBe(0);

  const second = await startServerProcess();
  try {
    const logIn = await fetch(`${second.url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: "a long password" }),
    });
    expect(logIn.status).toBe(200);
    expect(((await logIn.json()) as { user: { id: string } }).user.id).toBe(user.id);
  } finally {
    expect(await second.stop()).toBe(0);
  }
}, 120_000);
