// Graceful shutdown of the real process: SIGTERM stops new connections, lets a request that is
// already in flight finish, closes the database and exits 0.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { seedPgliteDataDir } from "@credits/db/testing/data-dir";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";

const dataDir = mkdtempSync(join(tmpdir(), "credits-shutdown-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
seedPgliteDataDir(dataDir);

function startProcess(): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const child = spawn(process.execPath, ["apps/server/src/main.ts"], {
    // Development mode serves the web app through Vite, so no build is needed for this test.
    env: {
      ...process.env,
      NODE_ENV: "development",
      PORT: "0",
      HOST: "127.0.0.1",
      DATABASE_URL: "",
      TEST_DATABASE_URL: "",
      DATA_DIR: dataDir,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match?.[1]) resolve({ child, port: Number(match[1]), output: () => output });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("exit", (code) => reject(new Error(`server exited early (${code}): ${output}`)));
  });
}

// Resolves once a new connection to the port is refused: the server has stopped listening.
async function refused(port: number): Promise<void> {
  for (;;) {
    const outcome = await new Promise<"refused" | "answered">((resolve) => {
      const req = request({ host: "127.0.0.1", port, path: "/readyz", agent: false }, (res) => {
        res.resume();
        res.on("end", () => resolve("answered"));
      });
      req.on("error", (error: NodeJS.ErrnoException) =>
        resolve(error.code === "ECONNREFUSED" ? "refused" : "answered"),
      );
      req.end();
    });
    if (outcome === "refused") return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("SIGTERM", () => {
  it("finishes the in-flight request, then exits cleanly", async () => {
    const { child, port, output } = await startProcess();
    // A failed or timed-out test must not leave the server running (a no-op once it has exited).
    onTestFinished(() => {
      child.kill("SIGKILL");
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));

    // A sign-up whose body arrives in two halves: in flight when the signal lands. Its
    // "Expect: 100-continue" makes the server say when it has read the headers and taken the request.
    const body = JSON.stringify({ email: `late-${Date.now()}@example.test`, password: "a long password" });
    const req = request({
      host: "127.0.0.1",
      port,
      method: "POST",
      path: "/api/v1/auth/signup",
      headers: {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        expect: "100-continue",
      },
    });
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      req.on("response", (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on("error", reject);
    });
    const taken = new Promise((resolve) => req.once("continue", resolve));
    req.flushHeaders();
    // Raced with the reply: a request answered or cut before "100 Continue" fails the test now
    // rather than at its timeout, and its error is not left unhandled while the body waits.
    await Promise.race([taken, response]);
    req.write(body.slice(0, 10));
    child.kill("SIGTERM");
    // The rest of the body only once the server takes no new connection: it is shutting down.
    await refused(port);
    req.end(body.slice(10));

    const reply = await response;
    expect(reply.status, reply.text).toBe(201);
    expect(await exited).toBe(0);
    expect(output()).toContain("SIGTERM: shutting down");
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  }, 60_000);
});
