import buildWebApp from "@credits/web/testing";
import { chromium } from "playwright-core";
import type { TestProject } from "vitest/node";
import { CHROMIUM_ARGS, findChromium, INSTALL_HINT } from "./chromium.ts";

declare module "vitest" {
  export interface ProvidedContext {
    // The shared Chromium's address, or why it did not start.
    chromium: { endpoint: string } | { failed: string };
  }
}

// Before any test of the run (Vitest runs every project's global setup first, so this Chromium
// also idles through the unit tests): the web app's own build step (it knows its sources), and one
// Chromium for every browser test file, which connects to it (harness.ts): a launch per file cost
// each file a browser start-up. Each test still gets a fresh context (its own cookies and storage).
// A Chromium that does not start fails the browser files, each with the reason, not the whole run.
export default async function setup(project: TestProject) {
  buildWebApp();
  const executablePath = findChromium();
  if (!executablePath) throw new Error(`no Chromium: ${INSTALL_HINT}`);
  try {
    const server = await chromium.launchServer({ executablePath, headless: true, args: CHROMIUM_ARGS });
    project.provide("chromium", { endpoint: server.wsEndpoint() });
    return () => server.close();
  } catch (error) {
    project.provide("chromium", { failed: `Chromium (${executablePath}) did not start: ${String(error)}` });
    return undefined;
  }
}
