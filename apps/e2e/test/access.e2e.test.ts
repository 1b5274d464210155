import { describe, expect, test } from "vitest";
import {
  connectBrowser,
  logInThroughPage,
  newPage,
  PASSWORD,
  screenshot,
  signUpThroughPage,
  startWebServer,
  uniqueEmail,
} from "./harness.ts";

const server = await startWebServer();
const browser = await connectBrowser();

async function userWithCredits(label: string, credits: number) {
  const email = uniqueEmail(label);
  const user = await server.services.auth.createUser({ email, password: PASSWORD, role: "user" });
  if (credits > 0) {
    await server.services.credits.grant({
      scope: { kind: "user", id: "test" },
      userId: user.id,
      amount: credits,
      idempotencyKey: `e2e-${user.id}`,
    });
  }
  return { email, user };
}

describe("the use-credits demo", () => {
  test("spends, spends once for a resubmitted form, then says the credits are not enough", async () => {
    const { email, user } = await userWithCredits("spender", 12);
    const { context, page } = await newPage(browser, server.url);
    await logInThroughPage(page, email);
    expect(await page.getByTestId("balance").textContent()).toBe("12 credits");

    await page.getByRole("button", { name: "Run report (5 credits)" }).click();
    await page.getByText("Report ready").waitFor();
    await expect.poll(() => page.getByTestId("balance").textContent()).toBe("7 credits");

    // The same rendered form sent twice (a double click, a resent POST): one spend.
    const key = await page.locator('input[name="idempotencyKey"]').inputValue();
    const post = () =>
      page.request.post("/credits?index", {
        form: { intent: "report", idempotencyKey: key },
        headers: { Origin: server.url },
        maxRedirects: 0,
      });
    const [first, second] = [await post(), await post()];
    expect([first.status(), second.status()]).toEqual([200, 200]);
    await page.reload();
    expect(await page.getByTestId("balance").textContent()).toBe("2 credits");

    const refused = page.waitForResponse((r) => r.request().method() === "POST" && r.url().includes("/credits"));
    await page.getByRole("button", { name: "Run report (5 credits)" }).click();
    expect((await refused).status()).toBe(402);
    await page.getByText("Not enough credits: a report costs 5 credits.", { exact: false }).waitFor();
    await expect.poll(() => page.getByTestId("balance").textContent()).toBe("2 credits");
    await screenshot(page, "credits-insufficient");

    const history = await server.services.credits.history(user.id, {});
    expect(history.transactions.filter((t) => t.kind === "spend")).toHaveLength(2);
    await context.close();
  });
});

describe("access", () => {
  test("a plain user opening /admin gets a 403 page", async () => {
    const { context, page } = await newPage(browser, server.url);
    await signUpThroughPage(page, uniqueEmail("plain"));
    const response = await page.goto("/admin");
    expect(response?.status()).toBe(403);
    await page.getByRole("heading", { name: "You don't have access to this page" }).waitFor();
    // No admin link in the navigation either.
    expect(await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).count()).toBe(0);
    await context.close();
  });

  test("an admin sees the API keys, creates one (shown once) and revokes it", async () => {
    const email = uniqueEmail("admin");
    await server.services.auth.createUser({ email, password: PASSWORD, role: "admin" });
    const { context, page } = await newPage(browser, server.url);
    await logInThroughPage(page, email);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin" }).click();
    await page.waitForURL("**/admin");
    await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "API keys" }).click();
    await page.waitForURL("**/admin/api-keys");
    await page.getByText("No API keys yet").waitFor();

    await page.getByLabel("Name").fill("billing-tool");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByText("Choose at least one permission.").waitFor();
    await page.getByRole("checkbox", { name: /credits:read/ }).check();
    await page.getByRole("button", { name: "Create key" }).click();
    const key = await page.getByTestId("new-api-key").textContent();
    expect(key?.length).toBeGreaterThan(20);
    await screenshot(page, "admin");

    await page.getByRole("button", { name: "Revoke billing-tool" }).click();
    await page.getByText("Revoked", { exact: true }).waitFor();
    await page.getByText("0 active").waitFor();
    await context.close();
  });

  test("after logging out, /credits sends you to the log-in page and back after it", async () => {
    const email = uniqueEmail("leaver");
    const { context, page } = await newPage(browser, server.url);
    await signUpThroughPage(page, email);
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL("**/login");
    await page.goto("/credits/history");
    await page.waitForURL("**/login?redirectTo=%2Fcredits%2Fhistory");
    await page.getByText("Log in to continue.").waitFor();

    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL("**/credits/history");
    await context.close();
  });

  test("sign out everywhere ends the other sessions too", async () => {
    const email = uniqueEmail("everywhere");
    await server.services.auth.createUser({ email, password: PASSWORD, role: "user" });
    const laptop = await newPage(browser, server.url);
    const phone = await newPage(browser, server.url, { viewport: { width: 390, height: 844 } });
    await logInThroughPage(laptop.page, email);
    await logInThroughPage(phone.page, email);
    await phone.page.goto("/account");
    await phone.page.getByText("You are signed in on 2 devices or browsers.").waitFor();
    await screenshot(phone.page, "account-phone");
    await phone.page.getByRole("button", { name: "Sign out everywhere" }).click();
    await phone.page.getByText("You have been signed out on every device.").waitFor();
    await laptop.page.goto("/credits");
    await laptop.page.waitForURL("**/login?redirectTo=%2Fcredits");
    await laptop.context.close();
    await phone.context.close();
  });

  test("a form posted from another site is refused", async () => {
    const { context, page } = await newPage(browser, server.url);
    await signUpThroughPage(page, uniqueEmail("victim"));
    const response = await page.request.post("/account", {
      headers: { Origin: "https://evil.example" },
      form: {},
      maxRedirects: 0,
    });
    expect(response.status()).toBe(403);
    await page.goto("/account");
    await page.getByText("You are signed in on this device only.").waitFor();
    await context.close();
  });

  test("an unknown address shows the 404 page", async () => {
    const { context, page } = await newPage(browser, server.url);
    const response = await page.goto("/no/such/page");
    expect(response?.status()).toBe(404);
    await page.getByRole("heading", { name: "Page not found" }).waitFor();
    // The API's own paths keep their JSON 404.
    const api = await page.request.get("/api/v1/nothing-here");
    expect(api.status()).toBe(404);
    expect(api.headers()["content-type"]).toContain("application/json");
    await context.close();
  });
});

describe("without JavaScript", () => {
  test("sign up (with an error next to its field), run a report, then see the insufficient-credits message", async () => {
    const { context, page } = await newPage(browser, server.url, { javaScriptEnabled: false });
    const taken = await userWithCredits("taken", 0);
    await page.goto("/signup");
    await page.getByLabel("Email").fill(taken.email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    // The server's answer, next to the field it concerns.
    await page.getByText("An account with this email already exists.", { exact: false }).waitFor();
    expect(await page.getByLabel("Email").getAttribute("aria-invalid")).toBe("true");
    expect(await page.getByLabel("Email").getAttribute("aria-describedby")).toBe("field-email-error");

    const email = uniqueEmail("nojs");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.waitForURL("**/credits");
    const { user } = await server.services.auth.logIn({ email, password: PASSWORD });
    await server.services.credits.grant({
      scope: { kind: "user", id: "test" },
      userId: user.id,
      amount: 6,
      idempotencyKey: `e2e-nojs-${user.id}`,
    });
    await page.reload();

    await page.getByRole("button", { name: "Run report (5 credits)" }).click();
    await page.getByText("Report ready").waitFor();
    expect(await page.getByTestId("balance").textContent()).toBe("1 credit");
    await page.getByRole("button", { name: "Run report (5 credits)" }).click();
    await page.getByText("Not enough credits", { exact: false }).waitFor();
    await context.close();
  });
});
