import { existsSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

// How to get a browser for the browser tests, said once wherever one is missing.
export const INSTALL_HINT =
  "install Chromium (Debian/Ubuntu: `apt-get install chromium`) or point CHROME_PATH at a Chrome or Chromium binary";

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// The Chromium the browser tests drive: CHROME_PATH, the system's, or one Playwright downloaded
// into its cache. Test tooling, so it reads the process environment itself.
export function findChromium(): string | null {
  const fromEnv = process.env.CHROME_PATH;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : null;
  const system = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];
  return system.find((path) => existsSync(path)) ?? playwrightChromium();
}

function playwrightChromium(): string | null {
  const cache = join(homedir(), ".cache", "ms-playwright");
  if (!existsSync(cache)) return null;
  const builds = readdirSync(cache)
    .filter((name) => name.startsWith("chromium-"))
    .sort()
    .reverse();
  for (const build of builds) {
    for (const platform of ["chrome-linux64", "chrome-linux"]) {
      const binary = join(cache, build, platform, "chrome");
      if (existsSync(binary)) return binary;
    }
  }
  return null;
}
