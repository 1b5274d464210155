import { parseEnv } from "@credits/env";
import { describe, expect, test } from "vitest";
import {
  connectBrowser,
  docsScreenshot,
  logInThroughPage,
  newPage,
  PASSWORD,
  startWebServer,
  uniqueEmail,
} from "./harness.ts";

const server = await startWebServer();
const browser = await connectBrowser();

describe("my data", () => {
  test("download my data: the export as a JSON attachment", async () => {
    const email = uniqueEmail("exporter");
    await server.services.auth.createUser({ email, password: PASSWORD, role: "user" });
    const { context, page } = await newPage(browser, server.url);
    await logInThroughPage(page, email);
    await page.goto("/account");
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Download my data" }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^credits-my-data-\d{4}-\d{2}-\d{2}\.json$/);
    const response = await page.request.get("/account/export");
    expect(response.status()).toBe(200);
    expect(response.headers()["content-disposition"]).toMatch(/^attachment; filename="credits-my-data-/);
    expect(response.headers()["content-type"]).toContain("application/json");
    const body = (await response.json()) as { profile: { email: string }; balance: number };
    expect(body.profile.email).toBe(email);
    expect(body.balance).toBe(0);
    await context.close();
  });

  test("past GDPR_EXPORT_RATE_LIMIT_PER_HOUR downloads, a plain 429 says when to come back", async () => {
    const email = uniqueEmail("exporter-often");
    await server.services.auth.createUser({ email, password: PASSWORD, role: "user" });
    const { context, page } = await newPage(browser, server.url);
    await logInThroughPage(page, email);
    // The harness keeps the default.
    const limit = parseEnv({ NODE_ENV: "test" }).GDPR_EXPORT_RATE_LIMIT_PER_HOUR;
    for (let i = 0; i < limit; i++) expect((await page.request.get("/account/export")).status()).toBe(200);
    const refused = await page.request.get("/account/export");
    expect(refused.status()).toBe(429);
    expect(Number(refused.headers()["retry-after"])).toBeGreaterThan(0);
    expect(refused.headers()["content-type"]).toContain("text/plain");
    expect(await refused.text()).toMatch(
      /^Your data was downloaded too often in the last hour\. Try again in \d+ min\.\n$/,
    );
    await context.close();
  });

  test("deleting the account: a wrong password is refused next to the field; then it signs out and log-in fails", async () => {
    const email = uniqueEmail("deleter");
    await server.services.auth.createUser({ email, password: PASSWORD, role: "user" });
    const { context, page } = await newPage(browser, server.url);
    await logInThroughPage(page, email);
    await page.goto("/account");
    await docsScreenshot(page, "account");

    await page.getByText("Delete my account…").click();
    await page.getByLabel("Password").fill("not my password");
    await page.getByRole("button", { name: "Delete my account" }).click();
    await page.getByText("That password is not correct.").waitFor();
    expect(await page.getByLabel("Password").getAttribute("aria-invalid")).toBe("true");
    expect(await page.getByLabel("Password").getAttribute("aria-describedby")).toBe("field-password-error");

    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Delete my account" }).click();
    await page.waitForURL((url) => url.pathname === "/" && url.search === "?deleted=1");
    await page.getByText("Your account has been deleted").waitFor();
    expect(await page.getByRole("button", { name: "Log out" }).count()).toBe(0);
    const cookies = await context.cookies();
    expect(cookies.filter((c) => c.value !== "")).toHaveLength(0);

    await page.goto("/login");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByText("That email and password don't match an account.").waitFor();
    await page.goto("/credits");
    await page.waitForURL("**/login?redirectTo=%2Fcredits");
    await context.close();
  });
});
