// Grants in the browser: the balance card's breakdown and next expiry, where a spend's credits came
// from, and an admin adjustment with a category and an expiry date.
import { randomUUID } from "node:crypto";
import { describe, expect, test } from "vitest";
import { logInThroughPage, newPage, screenshot, startE2e } from "./harness.ts";

const { server, browser, createUser } = await startE2e();

const admin = await createUser("grants-admin", "admin");
const DAY_MS = 86_400_000;
const dateOf = (at: Date) => new Intl.DateTimeFormat("en", { dateStyle: "medium", timeZone: "UTC" }).format(at);

describe("grants", () => {
  test("the balance card shows the live grants and the next expiry; history says where a spend came from", async () => {
    const customer = await createUser("grants-customer", "user");
    const trialEnds = new Date(Date.now() + 14 * DAY_MS);
    const adjust = (amount: number, terms: Record<string, unknown>) =>
      server.services.admin.adjust({
        actorId: admin.id,
        userId: customer.id,
        amount,
        reason: "Welcome",
        idempotencyKey: randomUUID(),
        terms,
      });
    await adjust(50, {});
    await adjust(30, { category: "promotional", expiresAt: trialEnds });

    const { page } = await newPage(browser, server.url);
    await logInThroughPage(page, customer.email);
    await page.goto("/credits");
    expect(await page.getByTestId("balance").textContent()).toBe("80 credits");
    expect(await page.getByTestId("next-expiry").textContent()).toBe(`30 credits expire on ${dateOf(trialEnds)}`);
    const breakdown = page.getByTestId("grant-breakdown").getByRole("listitem");
    expect(await breakdown.allTextContents()).toEqual([
      `Promotional credits30 credits · until ${dateOf(trialEnds)}`,
      "Adjusted credits50 credits",
    ]);
    await screenshot(page, "grants-balance-card");

    // A report costs 5: taken from the credits that expire first.
    await page.getByRole("button", { name: /^Run report/ }).click();
    await page.getByText("Report ready").waitFor();
    await page.goto("/credits/history");
    expect(await page.getByTestId("allocations").first().textContent()).toBe("5 from Promotional credits");
  });

  test("an admin adds credits with a category and an expiry; the user page lists the grant", async () => {
    const customer = await createUser("grants-adjusted", "user");
    const { page } = await newPage(browser, server.url);
    await logInThroughPage(page, admin.email);
    await page.goto(`/admin/users/${customer.id}`);
    const expiresOn = new Date(Date.now() + 30 * DAY_MS).toISOString().slice(0, 10);
    await page.getByLabel("Amount (credits)").fill("40");
    await page.getByLabel("Reason").fill("Trial credits");
    await page.getByLabel("Category (credits only)").selectOption("promotional");
    await page.getByLabel("Expires on (optional)").fill(expiresOn);
    await page.getByRole("button", { name: "Adjust balance" }).click();
    await page.getByText("Adjustment applied").waitFor();
    await page.goto(`/admin/users/${customer.id}`);
    const row = page.getByTestId("grant-table").locator("tbody tr");
    await expect.poll(() => row.count()).toBe(1);
    const cells = await row.locator("td").allTextContents();
    expect(cells).toEqual([
      "Promotional credits",
      "50",
      "40 of 40 credits",
      dateOf(new Date(`${expiresOn}T23:59:59.999Z`)),
      "Live",
    ]);

    // An expiry in the past is refused, and nothing is added.
    await page.getByLabel("Amount (credits)").fill("10");
    await page.getByLabel("Reason").fill("Too late");
    await page.getByLabel("Expires on (optional)").fill("2020-01-01");
    await page.getByRole("button", { name: "Adjust balance" }).click();
    await page.getByText("expiresAt must be in the future").waitFor();
    expect(await page.getByTestId("user-balance").textContent()).toBe("40 credits");
    await screenshot(page, "grants-admin-user");
  });
});
