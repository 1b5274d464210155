import type { Page } from "playwright-core";
import { describe, expect, test } from "vitest";
import { connectBrowser, newPage, screenshot, signUpThroughPage, startWebServer, uniqueEmail } from "./harness.ts";

// Review11 (issue 15): a purchase with a promotion code on the local provider
// (STRIPE_ALLOW_PROMOTION_CODES: its checkout page offers LOCAL25 and FREE100), from the Buy page
// to the receipt page's money rows. The local provider simulates no tax, so the receipt shows no
// tax row here (the rows with tax are covered by apps/web's receiptMoneyRows and the msw tests).
const server = await startWebServer({ STRIPE_ALLOW_PROMOTION_CODES: "true" });
const browser = await connectBrowser();

async function buyWithCode(page: Page, packName: string, code: RegExp) {
  await page.goto("/credits");
  await page.getByRole("button", { name: new RegExp(`^Buy ${packName}`) }).click();
  await page.waitForURL("**/checkout/local/**");
  await page.getByRole("button", { name: code }).click();
  await page.waitForURL("**/credits/success?session_id=**");
  await page.getByRole("heading", { name: "Payment received" }).waitFor();
}

// The receipt's rows as label → value, in page order.
async function receiptRows(page: Page): Promise<[string, string][]> {
  await page.getByRole("link", { name: "View receipt" }).click();
  await page.waitForURL("**/receipts/**");
  await page.getByRole("heading", { name: "Receipt" }).waitFor();
  const labels = await page.locator("dl dt").allTextContents();
  const values = await page.locator("dl dd").allTextContents();
  return labels.map((label, i) => [label, values[i] ?? ""]);
}

describe("a promotion code's receipt", () => {
  test("LOCAL25 on Standard, then FREE100 on Starter: the pack's credits, the receipt's price, discount and amount paid", async () => {
    const { context, page } = await newPage(browser, server.url);
    await signUpThroughPage(page, uniqueEmail("promo"));

    // Standard: 500 credits for $20.00, a quarter off.
    await buyWithCode(page, "Standard", /^Promotion code LOCAL25/);
    expect(await page.getByTestId("balance").textContent()).toBe("500 credits");
    const quarterOff = await receiptRows(page);
    expect(quarterOff.filter(([label]) => label !== "Date" && label !== "Payment")).toEqual([
      ["Pack", "Standard"],
      ["Credits", "500 credits"],
      ["Price", "$20.00"],
      ["Promotion code", "−$5.00"],
      ["Amount paid", "$15.00"],
    ]);
    await screenshot(page, "receipt-promotion");

    // Starter: 100 credits for $5.00, all of it off (a no-cost order).
    await buyWithCode(page, "Starter", /^Promotion code FREE100/);
    expect(await page.getByTestId("balance").textContent()).toBe("600 credits");
    const free = await receiptRows(page);
    expect(free.filter(([label]) => label !== "Date" && label !== "Payment")).toEqual([
      ["Pack", "Starter"],
      ["Credits", "100 credits"],
      ["Price", "$5.00"],
      ["Promotion code", "−$5.00"],
      ["Amount paid", "$0.00"],
    ]);

    await page.goto("/credits");
    await expect.poll(() => page.getByTestId("balance").textContent()).toBe("600 credits");
    await context.close();
  });
});
