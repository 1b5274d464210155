// `pnpm dev` serves the web app through Vite, whose /@fs/ route reads files of the repository:
// never the embedded database (./.data), dotfiles or .env files, in any of Vite's URL forms.
import { randomUUID } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { startWebServer } from "./hostile-web-helpers.ts";

const repo = fileURLToPath(new URL("../../..", import.meta.url)).replace(/\/$/, "");
const secret = `hostile-probe-${randomUUID()}`;
// Written into the files, never part of a path (an error page may echo the path it refused).
const content = `SECRET=${randomUUID()}`;
const probes = [
  join(repo, ".data", `${secret}.txt`),
  join(repo, "apps", "web", `.${secret}`),
  join(repo, `.env.${secret}`),
];
for (const path of probes) {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, `${content}\n`, { flag: "wx" });
}
afterAll(() => {
  for (const path of probes) rmSync(path, { force: true });
});

const server = await startWebServer("development");

describe("the Vite dev server", () => {
  it("serves a source file of the app through /@fs/ (the route under test works)", async () => {
    const reply = await fetch(`${server.url}/@fs${repo}/apps/web/app/lib/format.ts`);
    expect(reply.status).toBe(200);
    // A client module waits for Vite's dependency scan, which then is not cut short at close.
    expect((await fetch(`${server.url}/app/root.tsx`)).status).toBe(200);
  });

  const forms = ["", "?raw", "?import", "?url", "?import&raw", "?raw??", "?inline"];
  it.each(probes)("refuses %s in every URL form", async (path) => {
    for (const form of forms) {
      const reply = await fetch(`${server.url}/@fs${path}${form}`);
      const body = await reply.text();
      // `?import` of an asset answers a module exporting its URL, never the file: the content is what counts.
      if (form === "" || form.startsWith("?raw")) expect(reply.status, `${path}${form}`).toBe(403);
      expect(body, `${path}${form}`).not.toContain(content);
    }
  });

  // Vite's HMR websocket listens apart from the server (on a free port here; 24678 under
  // `pnpm dev`): reachable on loopback, not from this machine's network address.
  it("keeps its HMR websocket off the network (loopback only)", async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address && !address.internal && address.family === "IPv4")?.address;
    expect(external, "a network address to probe from").toBeDefined();
    expect(await reachable("127.0.0.1", server.hmrPort)).toBe(true);
    expect(await reachable(external ?? "", server.hmrPort)).toBe(false);
  });
});

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
