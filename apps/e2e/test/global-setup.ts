import buildWebApp from "@credits/web/testing";
import { chromium } from "playwright-core";
import type { TestProject } from "vitest/node";
import { CHROMIUM_ARGS, findChromium, INSTALL_HINT } from "./chromium.ts";

declare module "vitest" {
  export interface ProvidedContext {
    chromiumEndpoint: string;
  }
}

// Once before the browser tests: the web app's own build step (it knows its sources), and one
// Chromium for every test file, which connects to it (harness.ts): a launch per file cost each
// file a browser start-up. Each test still gets a fresh context (its own cookies and storage).
export default async function setup(project: TestProject) {
  buildWebApp();
  const executablePath = findChromium();
  if (!executablePath) throw new Error(`no Chromium: ${INSTALL_HINT}`);
  const server = await chromium.launchServer({ executablePath, headless: true, args: CHROMIUM_ARGS });
  project.provide("chromiumEndpoint", server.wsEndpoint());
  return () => server.close();
}
