import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { launchBrowser, newPage, screenshotDir, startWebServer } from "./harness.ts";

const server = await startWebServer();
const browser = await launchBrowser();

// The API reference (/api/docs) works offline: every request the page makes stays on this server
// (anything else is aborted and listed), and it still renders the operations from the document,
// with their code samples.
describe("the API reference page", () => {
  test("renders an operation and its curl sample with no request leaving the server", async () => {
    const { context, page } = await newPage(browser, server.url);
    const local = new URL(server.url).host;
    const elsewhere: string[] = [];
    await context.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (url.host === local || url.protocol === "data:" || url.protocol === "blob:") return route.continue();
      elsewhere.push(url.href);
      return route.abort();
    });
    const response = await page.goto("/api/docs");
    expect(response?.status()).toBe(200);
    await page.getByRole("heading", { name: "Spend credits" }).first().waitFor({ timeout: 60_000 });
    await page.getByRole("heading", { name: "Spend credits" }).first().scrollIntoViewIfNeeded();
    await expect.poll(() => page.getByText(/curl/).count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await page.screenshot({ path: join(screenshotDir, "api-docs.png") });
    expect(elsewhere).toEqual([]);
    await context.close();
  });
});
