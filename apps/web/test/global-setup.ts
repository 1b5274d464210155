import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const webDir = fileURLToPath(new URL("..", import.meta.url));
const builtEntry = join(webDir, "build", "server", "index.js");
const sources = [join(webDir, "app"), join(webDir, "vite.config.ts"), join(webDir, "package.json")];

function newestChange(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newestChange(join(path, name))));
}

// Builds the app once for the browser tests (`remix vite:build`), unless the build is newer than
// every source file of the app. The shared router is not bundled, so its changes need no build.
export default function setup() {
  if (existsSync(builtEntry) && statSync(builtEntry).mtimeMs > Math.max(...sources.map(newestChange))) return;
  const cli = join(
    createRequire(join(webDir, "package.json")).resolve("@remix-run/dev/package.json"),
    "..",
    "dist",
    "cli.js",
  );
  const started = Date.now();
  try {
    execFileSync(process.execPath, [cli, "vite:build"], {
      cwd: webDir,
      // vitest runs with NODE_ENV=test; the build must be a production one.
      env: { ...process.env, NODE_ENV: "production" },
      stdio: "pipe",
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`remix vite:build failed:\n${stdout?.toString() ?? ""}\n${stderr?.toString() ?? ""}`);
  }
  console.log(`e2e: built the web app in ${Date.now() - started} ms`);
}
