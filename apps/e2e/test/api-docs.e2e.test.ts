// The API reference page (/api/docs, Scalar) offline: every request that does not go to this
// server is aborted, and the page still renders the operations, a schema, the try-it button and
// code samples in curl, Node.js and Python.
import { describe, expect, test } from "vitest";
import { connectBrowser, newPage, screenshot, startWebServer } from "./harness.ts";

const server = await startWebServer();
const browser = await connectBrowser();

describe("the API reference page", () => {
  test("renders offline: operations, a schema, try-it and curl, Node.js and Python samples", async () => {
    const { context, page } = await newPage(browser, server.url);
    const local = new URL(server.url).host;
    const blocked: string[] = [];
    await context.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (url.host === local || url.protocol === "data:" || url.protocol === "blob:") return route.continue();
      blocked.push(url.href);
      return route.abort();
    });
    await page.goto("/api/docs");
    const signUp = page.locator("section", { hasText: "Create an account" }).filter({ hasText: "Request Example" });
    await signUp.first().waitFor();
    // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator, not a DOM node: the text a reader sees.
    const body = () => page.locator("body").innerText();
    // The operations (the first tag's, open) and every tag in the sidebar.
    for (const summary of ["Create an account", "Log in", "The signed-in user"]) {
      await expect.poll(body, { message: summary }).toContain(summary);
    }
    for (const tag of ["credits", "holds", "payments", "admin", "webhooks", "operations"]) {
      await expect.poll(body, { message: tag }).toContain(`Open Group - ${tag}`);
    }
    // A schema: the sign-up body's fields with their bounds.
    const section = signUp.first();
    // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator, not a DOM node: the text a reader sees.
    await expect.poll(() => section.innerText()).toMatch(/email[\s\S]*max length:\s*254[\s\S]*password/);
    // Try-it against this server.
    await expect.poll(() => page.getByRole("button", { name: /Test Request/i }).count()).toBeGreaterThan(0);
    // Code samples: curl by default, then Node.js (fetch) and Python from the client tabs.
    const samples = () =>
      section
        .locator("pre, code")
        .allInnerTexts()
        .then((texts) => texts.join("\n"));
    await expect.poll(samples).toMatch(/curl http:\/\/127\.0\.0\.1:\d+\/api\/v1\/auth\/signup/);
    await page.getByText("Node.js", { exact: true }).first().click();
    // Node.js's own HTTP client (undici, whose fetch Node ships) by default; fetch among the others.
    await expect.poll(samples).toMatch(/(request|fetch)\('http:\/\/127\.0\.0\.1:\d+\/api\/v1\/auth\/signup'/);
    await page.getByText("Python", { exact: true }).first().click();
    await expect.poll(samples).toMatch(/import (requests|http\.client)/);
    await screenshot(page, "api-docs");
    // Only Scalar's web fonts ask for another host (and fail: the page uses system fonts).
    expect(blocked.filter((url) => !url.startsWith("https://fonts.scalar.com/"))).toEqual([]);
    await context.close();
  });
});
