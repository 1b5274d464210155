import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { testDb } from "@credits/db/test-setup";
import { parseEnv } from "@credits/env";
import { type RunningServer, startServer } from "@credits/server/main";
import { closeAfterFile } from "@credits/server/testing";
import { createWebApp } from "@credits/web/server";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { inject } from "vitest";

export const screenshotDir = fileURLToPath(new URL("../../../test-results/screenshots/", import.meta.url));

// The real server on this test file's own database, serving the production build of the app.
// PUBLIC_URL must be the address the browser uses (checkout return URLs, the Origin check), so
// the port is chosen first.
export async function startWebServer(overrides: Record<string, string> = {}): Promise<RunningServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = parseEnv({
    NODE_ENV: "test",
    PORT: String(port),
    HOST: "127.0.0.1",
    PUBLIC_URL: url,
    AUTH_RATE_LIMIT_PER_MINUTE: "1000",
    CHECKOUT_RATE_LIMIT_PER_MINUTE: "1000",
    ...overrides,
  });
  const web = await createWebApp({ mode: "production" });
  const server = await startServer(env, { database: testDb, web, log: () => {} });
  closeAfterFile(async () => {
    await server.close();
    await web.close();
  });
  return { ...server, url };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

// A connection per test file to the run's one Chromium (global-setup.ts), a fresh context per
// test. Closing the connection after the file closes every context the file opened. A refused
// connection after earlier files connected means that Chromium died during the run.
export async function connectBrowser(): Promise<Browser> {
  const shared = inject("chromium");
  if ("failed" in shared) throw new Error(shared.failed);
  const browser = await chromium.connect(shared.endpoint).catch((error: unknown) => {
    throw new Error(`the run's shared Chromium (global-setup.ts) is not reachable: ${String(error)}`);
  });
  closeAfterFile(() => browser.close());
  return browser;
}

export async function newPage(
  browser: Browser,
  baseURL: string,
  options: { javaScriptEnabled?: boolean; viewport?: { width: number; height: number } } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    baseURL,
    viewport: options.viewport ?? { width: 1280, height: 900 },
    javaScriptEnabled: options.javaScriptEnabled ?? true,
  });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  return { context, page };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: true });
}

let counter = 0;
export const uniqueEmail = (label: string) => `${label}-${Date.now().toString(36)}-${counter++}@example.com`;
export const PASSWORD = "correct horse battery staple";

// A user made through the server's own services (no page), with a unique email.
export async function createUser(server: RunningServer, label: string, role: "user" | "admin") {
  const email = uniqueEmail(label);
  const user = await server.services.auth.createUser({ email, password: PASSWORD, role });
  return { email, id: user.id };
}

// Signs up through the page, as a person would.
export async function signUpThroughPage(page: Page, email: string): Promise<void> {
  await page.goto("/signup");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL("**/credits");
}

export async function logInThroughPage(page: Page, email: string): Promise<void> {
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL("**/credits");
}

// The screenshots kept with the documentation (docs/screenshots/), as well as the test run's.
export const docsScreenshotDir = fileURLToPath(new URL("../../../docs/screenshots/", import.meta.url));

export async function docsScreenshot(page: Page, name: string): Promise<void> {
  await screenshot(page, name);
  mkdirSync(docsScreenshotDir, { recursive: true });
  await page.screenshot({ path: join(docsScreenshotDir, `${name}.png`), fullPage: true });
}

// The head every test file of the panel shares: its own server (with `overrides` to the
// environment), a connection to the run's Chromium, and users made on that server.
export async function startE2e(overrides: Record<string, string> = {}) {
  const server = await startWebServer(overrides);
  const browser = await connectBrowser();
  return {
    server,
    browser,
    createUser: (label: string, role: "user" | "admin") => createUser(server, label, role),
  };
}

// Buys a pack from the Buy page through the local provider's checkout page, as a person would,
// and waits for the success page.
export async function buyThroughLocalCheckout(page: Page, packName: string): Promise<void> {
  await page.goto("/credits");
  await page.getByRole("button", { name: new RegExp(`^Buy ${packName}`) }).click();
  await page.waitForURL("**/checkout/local/**");
  await page.getByRole("button", { name: "Pay (test)" }).click();
  await page.getByRole("heading", { name: "Payment received" }).waitFor();
}
