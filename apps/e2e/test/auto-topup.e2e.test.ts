// Auto top-up in the browser on the local provider: opt in on /account, the first checkout saves
// the card, a spend through the API below the threshold is topped up and the open page's balance
// follows; a card that declines fails the top-up, and the failure mail's link to pay on-session
// opens the Buy page with that pack selected; removing the card (after a confirmation) turns it off.
import { randomUUID } from "node:crypto";
import type { BrowserContext, Page } from "playwright-core";
import { describe, expect, test } from "vitest";
import { connectBrowser, createUser, logInThroughPage, newPage, startWebServer } from "./harness.ts";

// The worker is off under NODE_ENV=test unless asked for; a short poll keeps the test quick.
const server = await startWebServer({
  AUTO_TOPUP_WORKER_ENABLED: "true",
  AUTO_TOPUP_POLL_INTERVAL_MS: "100",
  MAIL_POLL_INTERVAL_MS: "100",
});
const browser = await connectBrowser();

async function optIn(page: Page, threshold: number, packName: string): Promise<void> {
  await page.goto("/account");
  await page.getByLabel("Turn on auto top-up").check();
  await page.getByLabel("Top up below (credits)").fill(String(threshold));
  await page.locator("select[name=packageId]").selectOption({ label: `${packName} (100 credits)` });
  await Promise.all([
    page.waitForResponse((response) => response.request().method() === "POST"),
    page.getByRole("button", { name: "Save auto top-up" }).click(),
  ]);
  await page.reload();
  expect(await page.getByLabel("Turn on auto top-up").isChecked()).toBe(true);
  expect(await page.getByLabel("Top up below (credits)").inputValue()).toBe(String(threshold));
  await page.getByText("No card saved yet: your next purchase on the Credits page saves it.").waitFor();
}

// Buys Starter through the local checkout page with the chosen button (which card it saves).
async function buyStarter(page: Page, payButton: string): Promise<void> {
  await page.goto("/credits");
  await page.getByRole("button", { name: /^Buy Starter/ }).click();
  await page.waitForURL("**/checkout/local/**");
  await page.getByRole("button", { name: payButton, exact: true }).click();
  await page.getByRole("heading", { name: "Payment received" }).waitFor();
}

async function spendThroughApi(context: BrowserContext, userId: string, amount: number): Promise<void> {
  const cookie = (await context.cookies()).find((candidate) => candidate.name === "session");
  const reply = await fetch(`${server.url}/api/v1/credits/spend`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie: `session=${cookie?.value}` },
    body: JSON.stringify({ userId, amount, idempotencyKey: randomUUID() }),
  });
  expect(reply.status).toBe(200);
}

describe("auto top-up", () => {
  test("opt in, the first checkout saves the card, a spend below the threshold is topped up on the open page", async () => {
    const user = await createUser(server, "topup", "user");
    const { context, page } = await newPage(browser, server.url);
    await logInThroughPage(page, user.email);
    await optIn(page, 50, "Starter");
    await buyStarter(page, "Pay (test)");
    await page.goto("/account");
    await page.getByText("Card saved for auto top-up.").waitFor();
    await page.goto("/credits");
    await expect.poll(() => page.getByTestId("balance").textContent()).toBe("100 credits");

    // 100 → 40: below 50, so one Starter pack (100 credits) is bought with the saved card.
    await spendThroughApi(context, user.id, 60);
    await expect.poll(() => page.getByLabel("Balance: 140").count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => page.getByTestId("balance").textContent()).toBe("140 credits");
    await page.goto("/account");
    expect(await page.getByTestId("auto-topup-last").textContent()).toMatch(/^Last top-up: succeeded, /);

    // Removing the card asks first, then turns auto top-up off.
    await page.getByText("Remove card…").click();
    await Promise.all([
      page.waitForResponse((response) => response.request().method() === "POST"),
      page.getByRole("button", { name: "Remove the card" }).click(),
    ]);
    await page.getByText("No card saved yet: your next purchase on the Credits page saves it.").waitFor();
    expect(await page.getByLabel("Turn on auto top-up").isChecked()).toBe(false);
    await context.close();
  });

  test("a card that declines: the top-up fails, and the mail's pay link opens the Buy page with the pack selected", async () => {
    const user = await createUser(server, "declined-topup", "user");
    const { context, page } = await newPage(browser, server.url);
    await logInThroughPage(page, user.email);
    await optIn(page, 50, "Starter");
    await buyStarter(page, "Pay (test), saving a card that declines auto top-ups");
    await spendThroughApi(context, user.id, 60);
    // The local outbox (no SMTP_URL): the mail, its HTML, and the link in it.
    const mail = page
      .locator("article")
      .filter({ hasText: user.email })
      .filter({ hasText: "Your automatic top-up did not go through" });
    await expect
      .poll(
        async () => {
          await page.goto("/dev/mail");
          return mail.count();
        },
        { timeout: 15_000 },
      )
      .toBe(1);
    await mail.getByRole("link", { name: "HTML" }).click();
    const payUrl = (await page.getByRole("link", { name: "Pay for it now" }).getAttribute("href")) ?? "";
    expect(payUrl).toMatch(new RegExp(`^${server.url}/credits\\?package=[0-9a-f-]{36}$`));
    await page.goto("/account");
    expect(await page.getByTestId("auto-topup-last").textContent()).toMatch(/^Last top-up: failed \(declined\), /);

    await page.goto(payUrl);
    const chosen = page.locator("#packs li[aria-current='true']");
    expect(await chosen.count()).toBe(1);
    expect(await chosen.getByRole("heading").textContent()).toBe("Starter");
    await chosen.getByText("Selected", { exact: true }).waitFor();
    await expect
      .poll(() => page.evaluate(() => document.activeElement?.getAttribute("aria-label")))
      .toMatch(/^Buy Starter/);
    // Any other value selects nothing.
    await page.goto("/credits?package=not-a-pack");
    expect(await page.locator("#packs li[aria-current]").count()).toBe(0);
    await context.close();
  });
});
