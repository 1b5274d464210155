import { describe, expect, test } from "vitest";
import { connectBrowser, newPage, signUpThroughPage, startWebServer, uniqueEmail } from "./harness.ts";

const server = await startWebServer();
const browser = await connectBrowser();
// RemixBrowser sets this once the app has hydrated (its inline scripts ran). A function, not a
// string: Playwright polls a string predicate with eval, which this CSP refuses (a gate failed
// with EvalError when hydration was slower than the first check).
const hydrated = () => "__remixRouter" in window;

// The built app runs under a nonce-based Content-Security-Policy: every script it needs must still
// run (the app hydrates, client-side navigation works) and the browser reports no violation.
describe("the Content-Security-Policy", () => {
  test("the app hydrates and navigates with no CSP violation", async () => {
    const { context, page } = await newPage(browser, server.url);
    const violations: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    // Page scripts are strings here: this file is compiled without the DOM's types.
    await page.addInitScript(`document.addEventListener("securitypolicyviolation", (event) => {
      console.error("Content Security Policy violation: " + event.violatedDirective + " " + event.blockedURI);
    });`);

    const first = await page.goto("/login");
    expect(first?.headers()["content-security-policy"]).toMatch(/script-src 'self' 'nonce-/);
    await page.waitForFunction(hydrated);

    await signUpThroughPage(page, uniqueEmail("csp"));
    // A client-side navigation: the document stays the same (no full load) when the app is live.
    await page.evaluate("window.marker = true");
    await page
      .getByRole("link", { name: /history/i })
      .first()
      .click();
    await page.waitForURL("**/credits/history**");
    expect(await page.evaluate("window.marker")).toBe(true);

    for (const path of ["/credits", "/account"]) {
      await page.goto(path);
      await page.waitForFunction(hydrated);
    }
    expect(violations).toEqual([]);
    await context.close();
  });
});
