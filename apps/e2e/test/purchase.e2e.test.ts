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

describe("buying credits", () => {
  test("sign up, buy a pack through the local checkout, see it in the balance and the history", async () => {
    const { context, page } = await newPage(browser, server.url);
    await page.goto("/signup");
    await page.getByRole("heading", { name: "Create your account" }).waitFor();
    await screenshot(page, "sign-up");

    await signUpThroughPage(page, uniqueEmail("buyer"));
    expect(await page.getByTestId("balance").textContent()).toBe("0 credits");
    await page.getByText("No activity yet").waitFor();
    await screenshot(page, "credits-empty");

    // The seeded Starter pack: 100 credits for $5.00.
    await page.getByRole("button", { name: /^Buy Starter/ }).click();
    await page.waitForURL("**/checkout/local/**");
    await page.getByText("TEST MODE").waitFor();
    await screenshot(page, "local-checkout");
    await page.getByRole("button", { name: "Pay (test)" }).click();

    await page.waitForURL("**/credits/success?session_id=**");
    await page.getByRole("heading", { name: "Payment received" }).waitFor();
    expect(await page.getByTestId("balance").textContent()).toBe("100 credits");
    await screenshot(page, "success");

    await page.getByRole("link", { name: "Back to your credits" }).click();
    await page.waitForURL("**/credits");
    await expect.poll(() => page.getByTestId("balance").textContent()).toBe("100 credits");
    await screenshot(page, "credits");

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "History" }).click();
    await page.waitForURL("**/credits/history");
    // The history table comes first; the purchases (with their receipts) are listed below it.
    const rows = page.getByRole("table").first().getByRole("row");
    expect(await rows.count()).toBe(2); // header + the purchase
    const purchase = rows.nth(1).getByRole("cell");
    expect(await purchase.nth(1).textContent()).toBe("Purchase");
    expect(await purchase.nth(2).textContent()).toBe("added +100");
    await screenshot(page, "history");

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Account" }).click();
    await page.waitForURL("**/account");
    await page.getByText("This device", { exact: true }).waitFor();
    await screenshot(page, "account-after-purchase");
    await context.close();
  });

  test("canceling the checkout leaves the balance alone", async () => {
    const { context, page } = await newPage(browser, server.url);
    await signUpThroughPage(page, uniqueEmail("canceler"));
    await page.getByRole("button", { name: /^Buy Standard/ }).click();
    await page.waitForURL("**/checkout/local/**");
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.waitForURL("**/credits/cancel**");
    await page.getByRole("heading", { name: "Checkout canceled" }).waitFor();
    await page.getByRole("link", { name: "Back to your credits" }).click();
    await page.waitForURL("**/credits");
    await expect.poll(() => page.getByTestId("balance").textContent()).toBe("0 credits");
    await context.close();
  });

  test("a failed payment says so and adds nothing", async () => {
    const { context, page } = await newPage(browser, server.url);
    await signUpThroughPage(page, uniqueEmail("declined"));
    await page.getByRole("button", { name: /^Buy Starter/ }).click();
    await page.waitForURL("**/checkout/local/**");
    await page.getByRole("button", { name: "Fail the payment" }).click();
    await page.waitForURL("**/credits/success?session_id=**");
    await page.getByRole("heading", { name: "The payment didn't go through" }).waitFor();
    await page.getByRole("link", { name: "Choose a pack" }).click();
    await page.waitForURL("**/credits");
    await expect.poll(() => page.getByTestId("balance").textContent()).toBe("0 credits");
    await context.close();
  });
});

describe("history", () => {
  test("filter, sort and pages live in the URL; the back button walks them", async () => {
    const email = uniqueEmail("historian");
    const user = await server.services.auth.createUser({ email, password: PASSWORD, role: "user" });
    for (let i = 1; i <= 23; i++) {
      await server.services.credits.grant({
        scope: { kind: "user", id: "test" },
        userId: user.id,
        amount: i,
        idempotencyKey: `e2e-grant-${user.id}-${i}`,
      });
    }
    for (let i = 1; i <= 2; i++) {
      await server.services.credits.spend({
        scope: { kind: "user", id: "test" },
        userId: user.id,
        amount: 1,
        idempotencyKey: `e2e-spend-${user.id}-${i}`,
      });
    }

    const { context, page } = await newPage(browser, server.url);
    await logInThroughPage(page, email);
    await page.goto("/credits/history");
    const rows = page.getByRole("table").first().getByRole("row");
    expect(await rows.count()).toBe(21); // header + a page of 20, newest first
    expect(await rows.nth(1).textContent()).toContain("Spend");

    await page.getByRole("link", { name: "Next →" }).click();
    await page.waitForURL(/cursor=/);
    await page.getByText("Page 2", { exact: true }).waitFor();
    await expect.poll(() => rows.count()).toBe(6); // the 5 oldest
    const oldest = rows.last().getByRole("cell");
    expect(await oldest.nth(1).textContent()).toBe("Grant");
    expect(await oldest.nth(2).textContent()).toBe("added +1");

    await page.goBack();
    await page.getByText("Page 1", { exact: true }).waitFor();
    await expect.poll(() => rows.count()).toBe(21);

    // Filter: spends only, oldest first; the URL carries it, a reload keeps it.
    await page.getByRole("checkbox", { name: "Spend" }).check();
    await page.getByLabel("Sort").selectOption("asc");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/kind=spend/);
    expect(page.url()).toContain("order=asc");
    await expect.poll(() => rows.count()).toBe(3);
    await page.reload();
    expect(await rows.count()).toBe(3);
    expect(await page.getByRole("checkbox", { name: "Spend" }).isChecked()).toBe(true);

    // A date range with nothing in it: the designed empty state.
    await page.goto("/credits/history?from=2001-01-01&to=2001-01-31");
    await page.getByText("Nothing matches these filters").waitFor();
    // An inverted range: the error sits next to its field.
    await page.goto("/credits/history?from=2030-02-01&to=2030-01-01");
    await page.getByText("The end date must be on or after the start date.").waitFor();
    expect(await page.getByLabel("To (UTC)").getAttribute("aria-invalid")).toBe("true");
    await context.close();
  });
});
