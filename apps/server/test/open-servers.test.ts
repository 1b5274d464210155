// What reused-worker.setup.ts closes before the next file when a file never reached its afterAll
// hooks (it failed while being collected): the servers it started.
import { describe, expect, it } from "vitest";
import { startTestServer } from "./harness.ts";
import { closeAfterFile, closeLeftoverServers } from "./open-servers.ts";

describe("servers left open by a test file", () => {
  it("are closed once, by the leftover pass or by the file's end, not both", async () => {
    let closed = 0;
    closeAfterFile(async () => {
      closed += 1;
    });
    expect(await closeLeftoverServers()).toBe(1);
    expect(closed).toBe(1);
    expect(await closeLeftoverServers()).toBe(0);
  });

  it("a real server stops answering", async () => {
    const server = await startTestServer();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(await closeLeftoverServers()).toBe(1);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});
