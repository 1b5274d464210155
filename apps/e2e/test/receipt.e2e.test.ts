import { describe, expect, test } from "vitest";
import { connectBrowser, newPage, signUpThroughPage, startWebServer, uniqueEmail } from "./harness.ts";

const server = await startWebServer();
const browser = await connectBrowser();

describe("receipts", () => {
  test("buy a pack on the local provider, follow the receipt link from the success page and from the history", async () => {
    const { context, page } = await newPage(browser, server.url);
    await signUpThroughPage(page, uniqueEmail("receipt"));
    // The seeded Standard pack: 500 credits for $20.00.
    await page.getByRole("button", { name: /^Buy Standard/ }).click();
    await page.waitForURL("**/checkout/local/**");
    await page.getByRole("button", { name: "Pay (test)" }).click();
    await page.waitForURL("**/credits/success?session_id=**");
    await page.getByRole("heading", { name: "Payment received" }).waitFor();

    await page.getByRole("link", { name: "View receipt" }).click();
    await page.waitForURL("**/receipts/**");
    await page.getByRole("heading", { name: "Receipt" }).waitFor();
    const paymentId = new URL(page.url()).pathname.split("/").at(-1) ?? "";
    expect(paymentId).toMatch(/^[0-9a-f-]{36}$/);
    const receipt = (await page.locator("dl").textContent()) ?? "";
    for (const text of ["Standard", "500 credits", "$20.00", paymentId]) expect(receipt).toContain(text);

    await page.goto("/credits/history");
    await page.getByRole("heading", { name: "Purchases" }).waitFor();
    await page.getByRole("link", { name: "Receipt" }).click();
    await page.waitForURL(`**/receipts/${paymentId}`);
    expect((await page.locator("dl").textContent()) ?? "").toContain("$20.00");

    // Someone else's receipt is not found.
    const other = await newPage(browser, server.url);
    await signUpThroughPage(other.page, uniqueEmail("stranger"));
    const response = await other.page.goto(`/receipts/${paymentId}`);
    expect(response?.status()).toBe(404);
    await other.context.close();
    await context.close();
  });
});
